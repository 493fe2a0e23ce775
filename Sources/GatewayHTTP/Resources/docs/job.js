/*
 * Mailbox Gateway: batch job page (GET /jobs/<jobKey>, file /docs/job.html).
 *
 * Polls GET /api/v1/batch/jobs/<jobKey> every second and shows status, progress and failed items
 * until the job is completed or unknown (404). The job key is the last segment of the page's path.
 *
 * Authentication: the header X-Axigen-Session is sent when a session ID is known. It is read once
 * from the URL fragment "#session=<sessid>" (fragments never reach the server or its logs), kept in
 * sessionStorage (this tab only) and removed from the address bar; later loads take it from
 * sessionStorage. Without one the request is sent anyway (the browser may hold Basic
 * credentials); on 401 a form asks for a session ID and the page tries again.
 *
 * Server data is only ever written with textContent. No inline script: works under
 * "Content-Security-Policy: default-src 'self'".
 */
(function () {
  'use strict';

  var POLL_MS = 1000;
  var MAX_RETRY_MS = 30000;
  var STORAGE_KEY = 'mailboxGateway.sessionId';
  var STATUS_LABELS = { inProgress: 'In progress', completed: 'Completed' };

  var el = {};
  var jobKey = null;
  var session = null;
  var timer = null;
  var generation = 0; // bumps when polling restarts, so answers to older requests are ignored
  var retryMs = POLL_MS;

  function byId(id) {
    return document.getElementById(id);
  }

  // ---- session ID ------------------------------------------------------------------------

  function storageGet() {
    try {
      return window.sessionStorage.getItem(STORAGE_KEY);
    } catch (e) {
      return null; // storage disabled: the session lives in this page only
    }
  }

  function storageSet(value) {
    try {
      if (value) {
        window.sessionStorage.setItem(STORAGE_KEY, value);
      } else {
        window.sessionStorage.removeItem(STORAGE_KEY);
      }
    } catch (e) {
      /* ignore */
    }
  }

  function safeDecode(text) {
    try {
      return decodeURIComponent(text);
    } catch (e) {
      return null;
    }
  }

  /** Takes "session=<sessid>" out of the fragment (keeping any other fragment parameters). */
  function sessionFromFragment() {
    var hash = window.location.hash.replace(/^#/, '');
    if (!hash) {
      return null;
    }
    var found = null;
    var kept = [];
    hash.split('&').forEach(function (part) {
      if (part.indexOf('session=') === 0) {
        found = safeDecode(part.slice('session='.length));
      } else if (part) {
        kept.push(part);
      }
    });
    if (found === null) {
      return null;
    }
    var clean = window.location.pathname + window.location.search + (kept.length ? '#' + kept.join('&') : '');
    try {
      window.history.replaceState(window.history.state, '', clean);
    } catch (e) {
      /* ignore */
    }
    return found.trim() || null;
  }

  // ---- rendering -------------------------------------------------------------------------

  function showError(message) {
    el.error.textContent = message;
    el.error.hidden = false;
  }

  function clearError() {
    el.error.textContent = '';
    el.error.hidden = true;
  }

  function setStatus(raw, label) {
    el.status.textContent = label;
    el.status.setAttribute('data-status', raw);
  }

  function render(job) {
    var status = typeof job.status === 'string' ? job.status : 'unknown';
    setStatus(status, Object.prototype.hasOwnProperty.call(STATUS_LABELS, status) ? STATUS_LABELS[status] : status);

    var progress = Number(job.progress);
    if (!isFinite(progress)) {
      progress = 0;
    }
    progress = Math.min(100, Math.max(0, progress));
    el.progress.value = progress;
    el.progress.textContent = Math.floor(progress) + '%';
    // Never show 100% before the job says it is completed (99.6 is "99%").
    el.progressText.textContent = (status === 'completed' ? Math.round(progress) : Math.floor(progress)) + '%';

    var details = job.batchOperationDetails;
    var failed = details && Array.isArray(details.failedItems) ? details.failedItems : [];
    el.failedCount.textContent = String(failed.length);
    el.failedNone.hidden = failed.length > 0;
    if (el.failedItems.childElementCount !== failed.length) { // failed items only ever grow
      var fragment = document.createDocumentFragment();
      failed.forEach(function (item) {
        var li = document.createElement('li');
        li.textContent = typeof item === 'string' ? item : JSON.stringify(item);
        fragment.appendChild(li);
      });
      el.failedItems.replaceChildren(fragment);
    }

    var label = status === 'completed' ? 'Completed' : el.progressText.textContent;
    document.title = label + ' – Batch job – Mailbox Gateway';
  }

  function errorMessage(body, fallback) {
    if (body && body.error && typeof body.error.message === 'string' && body.error.message) {
      return body.error.message;
    }
    return fallback;
  }

  // ---- polling ---------------------------------------------------------------------------

  function schedule(delay) {
    window.clearTimeout(timer);
    timer = window.setTimeout(poll, delay);
  }

  function stop() {
    window.clearTimeout(timer);
    timer = null;
    generation += 1;
  }

  function retryAfter(response) {
    var seconds = Number(response.headers.get('Retry-After'));
    if (isFinite(seconds) && seconds > 0) {
      return Math.min(MAX_RETRY_MS, seconds * 1000);
    }
    retryMs = Math.min(MAX_RETRY_MS, retryMs * 2);
    return retryMs;
  }

  function askForSession(message) {
    stop();
    setStatus('unauthorized', 'Not signed in');
    showError(message);
    el.form.hidden = false;
    if (session) {
      // The stored session was refused (expired or logged out): do not send it again.
      session = null;
      storageSet(null);
    }
    el.sessionInput.value = '';
    el.sessionInput.focus();
  }

  function handle(response, body, mine) {
    if (mine !== generation) {
      return;
    }
    if (response.ok && body && typeof body === 'object') {
      retryMs = POLL_MS;
      clearError();
      el.form.hidden = true;
      render(body);
      if (body.status === 'completed') {
        stop();
      } else {
        schedule(POLL_MS);
      }
      return;
    }
    if (response.status === 401) {
      askForSession(errorMessage(body, 'Not authenticated.') + ' Enter a session ID to continue.');
      return;
    }
    if (response.status === 404) {
      stop();
      setStatus('notFound', 'Not found');
      showError(errorMessage(body, 'No batch job with this key.'));
      return;
    }
    if (response.status === 408 || response.status === 429 || response.status >= 500) {
      var delay = retryAfter(response);
      showError(errorMessage(body, 'The gateway answered HTTP ' + response.status + '.') +
        ' Trying again in ' + Math.round(delay / 1000) + ' s.');
      schedule(delay);
      return;
    }
    stop();
    setStatus('error', 'Error');
    showError(errorMessage(body, 'Unexpected answer from the gateway: HTTP ' + response.status + '.'));
  }

  function poll() {
    var mine = generation;
    var headers = { Accept: 'application/json' };
    if (session) {
      headers['X-Axigen-Session'] = session;
    }
    window.fetch('/api/v1/batch/jobs/' + encodeURIComponent(jobKey), {
      method: 'GET',
      headers: headers,
      // With a session ID no other credentials are needed; 'omit' also keeps the browser from
      // opening its Basic login dialog when the gateway answers 401 with a challenge. Without
      // one, Basic credentials the browser already holds for the gateway are sent.
      credentials: session ? 'omit' : 'same-origin',
      cache: 'no-store',
      redirect: 'error'
    }).then(function (response) {
      return response.text().then(function (text) {
        var body = null;
        try {
          body = text ? JSON.parse(text) : null;
        } catch (e) {
          body = null;
        }
        handle(response, body, mine);
      });
    }).catch(function () {
      if (mine !== generation) {
        return;
      }
      retryMs = Math.min(MAX_RETRY_MS, retryMs * 2);
      showError('Cannot reach the gateway. Trying again in ' + Math.round(retryMs / 1000) + ' s.');
      schedule(retryMs);
    });
  }

  function restart() {
    stop();
    retryMs = POLL_MS;
    poll();
  }

  // ---- start -----------------------------------------------------------------------------

  function start() {
    el = {
      jobKey: byId('job-key'),
      status: byId('status'),
      progress: byId('progress'),
      progressText: byId('progress-text'),
      failedItems: byId('failed-items'),
      failedCount: byId('failed-count'),
      failedNone: byId('failed-none'),
      error: byId('error'),
      form: byId('session-form'),
      sessionInput: byId('session-input')
    };

    el.form.addEventListener('submit', function (event) {
      event.preventDefault();
      var value = el.sessionInput.value.trim();
      if (!value) {
        el.sessionInput.focus();
        return;
      }
      session = value;
      storageSet(value);
      el.sessionInput.value = '';
      el.form.hidden = true;
      clearError();
      setStatus('loading', 'Loading…');
      restart();
    });

    var segments = window.location.pathname.split('/').filter(function (s) { return s !== ''; });
    jobKey = segments.length ? safeDecode(segments[segments.length - 1]) : null;
    if (!jobKey) {
      el.jobKey.textContent = '(none)';
      setStatus('error', 'Error');
      showError('This address names no job: expected /jobs/<jobKey>.');
      return;
    }
    el.jobKey.textContent = jobKey;

    var fromFragment = sessionFromFragment();
    if (fromFragment) {
      storageSet(fromFragment);
    }
    session = fromFragment || storageGet();

    poll();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
}());
