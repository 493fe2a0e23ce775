#!/usr/bin/env python3
"""Load a page in headless Chromium, check what it shows, and prove it fetched nothing from elsewhere.

    python3 integration/browser-check.py --url http://127.0.0.1:8080/docs \\
        --expect-selector .swagger-ui --expect-text /api/v1/batch/mails/move
    python3 integration/browser-check.py --url 'http://127.0.0.1:8080/jobs/KEY#session=SESSID' \\
        --expect-text Completed --expect-count '#failed-items li' 2 --dump /tmp/job.html

Python 3 standard library only. Chromium is Debian's (`apt-get install chromium`); the real binary
behind Debian's /usr/bin/chromium launcher, /usr/lib/chromium/chromium, is run directly so that
the launcher's /etc/chromium.d settings (remote extensions, API keys) do not apply. `--chromium`
or $CHROMIUM names another one.

What it does
------------
Chromium runs once, as root with --no-sandbox, --headless, a throwaway profile, HOME and cache
directories (removed afterwards), with first-run, extensions, sync, component updates, background
networking, network time, autofill and translate queries switched off. It loads --url, lets the
page run for --wait-ms of virtual time (timers and polling run fast, network waits are real),
then prints the serialized DOM (--dump-dom), which is parsed with html.parser.

Nothing can leave the machine: every connection goes through a proxy at a loopback port that this
script holds bound but never listens on (connections are refused at once), except the --url's own
scheme://host:port (--proxy-bypass-list, with <-loopback> so other loopback ports are proxied too),
and every host name except the --url's host resolves to NOTFOUND (--host-resolver-rules), so
nothing is looked up in DNS either. A page served under a Content-Security-Policy has requests
elsewhere blocked by the policy before they reach the network: those show up as CSP violations.

Checks (each is printed with its result):
  * network: Chromium's own net log (--log-net-log) lists every request. Each must go to the same
    scheme://host:port as --url. Any other is a failure, listed, except Chromium's own background
    requests that no page can make (Google account list and on-demand component update, which
    Chromium 156 sends whatever its switches; network time, autofill and the like: known traffic
    annotations, no page origin as initiator) and that got no answer; they are listed as blocked
    (--strict fails on them too). At socket level: a TCP connection to anything but the page's server or the dead proxy,
    a UDP datagram sent, or a DNS lookup of any other host is a failure as well.
  * the page itself loaded (no network error, HTTP status below 400);
  * Content-Security-Policy: a CSP violation reported on the console is a failure
    (unless --allow-csp-violations); every console message is printed;
  * --expect-selector CSS: at least one element matches; --reject-selector CSS: none matches;
    --expect-count CSS N: exactly N match;
  * --expect-text TEXT / --reject-text TEXT: TEXT is / is not in the page's text (whitespace
    collapsed, case-sensitive; text of <head>, script, style, template, noscript and of elements
    with the `hidden` attribute left out).

Selectors: a comma-separated list of compound selectors made of `tag` or `*`, `#id`, `.class`,
`[attr]`, `[attr=value]` (also ~= ^= $= *= |=, value bare or quoted), joined by descendant
(space) or child (`>`) combinators, e.g. `#failed-items > li`, `progress#progress[value="100"]`,
`.swagger-ui .opblock`. Pseudo-classes and the + and ~ combinators are not supported (refused).

A 401 answer with `WWW-Authenticate` to a request the page makes with credentials makes Chromium
wait for its login dialog, which headless Chromium never shows: the run then times out, and the
script says which request was challenged.

--screenshot FILE loads the page a second time (same isolation, same network checks) and saves a
PNG of --window-size.

Exit status: 0 when every check passed, 1 when one failed (Chromium crashing or timing out
included), 2 for a usage error or when no Chromium is found.
"""

import argparse
import html.parser
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.parse

DEFAULT_CHROMIUM_CANDIDATES = (
    '/usr/lib/chromium/chromium',  # Debian's real binary behind the /usr/bin/chromium launcher
    '/usr/bin/chromium',
    'chromium',
    'chromium-browser',
    'google-chrome',
)

# Traffic annotations (net log REQUEST_ALIVE "traffic_annotation") of requests Chromium makes for
# itself, never on behalf of a page. Those seen from Debian's chromium 156 even with every
# background switch off are marked (*). Names from Chromium's traffic annotation list.
BROWSER_ANNOTATIONS = {
    35565745: 'gaia_auth_list_accounts',  # (*) accounts.google.com/ListAccounts, every profile
    54845618: 'update_client',  # (*) update.googleapis.com: on-device model manifest, on demand
    46188932: 'network_time',  # clients2.google.com/time (off: NetworkTimeServiceQuerying)
    88863520: 'autofill_query',  # content-autofill.googleapis.com (off: AutofillServerCommunication)
    4598626: 'gaia_auth_check_connection_info',
    31445884: 'gaia_auth_multilogin',
    27915688: 'oauth2_access_token_fetcher',
    65957842: 'gcm_checkin',
    61656965: 'gcm_registration',
    115188287: 'chrome_variations_service',
    727478: 'metrics_report_ukm',
    727528: 'metrics_report_uma',
    108804096: 'domain_reliability_report_upload',
    34557599: 'hintsfetcher_gethintsrequest',
    95682324: 'ranker_url_fetcher',
    137116619: 'translate_url_fetcher',
    82509217: 'safe_browsing_v4_update',
    8561691: 'safe_browsing_v4_get_hash',
    21145003: 'extension_crx_fetcher',
    5151071: 'extension_manifest_fetcher',
}
# Annotations of requests made for a page (shown with their name in the listing).
PAGE_ANNOTATIONS = {
    63171670: 'navigation',
    101845102: 'subresource',
    112189210: 'favicon',
    21498113: 'service worker script',
}

# Schemes that never reach the network.
LOCAL_SCHEMES = {'data', 'blob', 'about', 'chrome', 'chrome-untrusted', 'chrome-extension',
                 'devtools', 'filesystem', 'javascript'}
DEFAULT_PORTS = {'http': 80, 'https': 443, 'ws': 80, 'wss': 443}
WS_TO_HTTP = {'ws': 'http', 'wss': 'https'}

CSP_MARKERS = ('Content Security Policy', 'Content-Security-Policy')

VOID_ELEMENTS = {'area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta',
                 'param', 'source', 'track', 'wbr', 'keygen'}
# Elements whose contents are left out of the page's text.
NO_TEXT_ELEMENTS = {'head', 'script', 'style', 'template', 'noscript'}
# Elements whose start and end separate words in the page's text.
BLOCK_ELEMENTS = {'address', 'article', 'aside', 'blockquote', 'br', 'button', 'caption', 'dd',
                  'details', 'dialog', 'div', 'dl', 'dt', 'fieldset', 'figcaption', 'figure',
                  'footer', 'form', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'header', 'hr', 'input',
                  'label', 'legend', 'li', 'main', 'nav', 'ol', 'option', 'p', 'pre', 'progress',
                  'section', 'select', 'summary', 'table', 'tbody', 'td', 'textarea', 'tfoot',
                  'th', 'thead', 'tr', 'ul', 'body', 'html'}


class UsageError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# DOM: html.parser builds a tree from Chromium's serialized DOM.


class Element:
    __slots__ = ('tag', 'attrs', 'children', 'parent')

    def __init__(self, tag, attrs, parent):
        self.tag = tag
        self.attrs = attrs
        self.children = []
        self.parent = parent

    def iter(self):
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed([c for c in node.children if isinstance(c, Element)]))


class DomBuilder(html.parser.HTMLParser):
    # Chromium runs with scripting on, so <noscript> holds raw text in its DOM, serialized raw.
    CDATA_CONTENT_ELEMENTS = html.parser.HTMLParser.CDATA_CONTENT_ELEMENTS + ('noscript',)

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Element('#document', {}, None)
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {k: (v if v is not None else '') for k, v in attrs}, self.stack[-1])
        self.stack[-1].children.append(element)
        if tag not in VOID_ELEMENTS:
            self.stack.append(element)

    def handle_startendtag(self, tag, attrs):
        element = Element(tag, {k: (v if v is not None else '') for k, v in attrs}, self.stack[-1])
        self.stack[-1].children.append(element)

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse_dom(text):
    builder = DomBuilder()
    builder.feed(text)
    builder.close()
    return builder.root


def page_text(root):
    parts = []

    def walk(node):
        for child in node.children:
            if isinstance(child, str):
                parts.append(child)
            elif child.tag in NO_TEXT_ELEMENTS or 'hidden' in child.attrs:
                continue
            elif child.tag in BLOCK_ELEMENTS:
                parts.append(' ')
                walk(child)
                parts.append(' ')
            else:
                walk(child)

    walk(root)
    return ' '.join(''.join(parts).split())


def elements(root):
    """Every element a selector may match (not inside <template>)."""
    stack = [root]
    while stack:
        node = stack.pop()
        if node is not root:
            yield node
        if node.tag == 'template':
            continue
        stack.extend(reversed([c for c in node.children if isinstance(c, Element)]))


# ---------------------------------------------------------------------------------------------
# Selectors.

_IDENT = r'-?(?:[A-Za-z_]|\\.|[^\x00-\x7f])(?:[\w-]|\\.|[^\x00-\x7f])*'
_ATTR = re.compile(r'\[\s*(' + _IDENT + r')\s*(?:([~^$*|]?=)\s*(?:"((?:[^"\\]|\\.)*)"|\'((?:[^\'\\]|\\.)*)\'|('
                   + _IDENT + r'|[^\]\s]+))\s*(i)?\s*)?\]')
_TAG = re.compile(r'\*|' + _IDENT)
_HASH = re.compile(r'#(' + r'(?:[\w-]|\\.|[^\x00-\x7f])+' + r')')
_CLASS = re.compile(r'\.(' + _IDENT + r')')


def _unescape(text):
    return re.sub(r'\\(.)', r'\1', text)


def parse_selector_list(text):
    """'a b > c, d' -> [[compound, comb, compound, ...], ...]; each compound a dict."""
    groups = []
    pos = 0
    text = text.strip()
    if not text:
        raise UsageError('empty selector')
    current = []
    pending_comb = None
    while True:
        # one compound selector
        compound = {'tag': None, 'ids': [], 'classes': [], 'attrs': []}
        start = pos
        m = _TAG.match(text, pos)
        if m:
            compound['tag'] = m.group(0).lower() if m.group(0) != '*' else None
            pos = m.end()
        while pos < len(text):
            ch = text[pos]
            if ch == '#':
                m = _HASH.match(text, pos)
                if not m:
                    raise UsageError('bad #id in selector %r at %d' % (text, pos))
                compound['ids'].append(_unescape(m.group(1)))
            elif ch == '.':
                m = _CLASS.match(text, pos)
                if not m:
                    raise UsageError('bad .class in selector %r at %d' % (text, pos))
                compound['classes'].append(_unescape(m.group(1)))
            elif ch == '[':
                m = _ATTR.match(text, pos)
                if not m:
                    raise UsageError('bad [attribute] in selector %r at %d' % (text, pos))
                value = next((g for g in m.group(3, 4, 5) if g is not None), None)
                compound['attrs'].append((_unescape(m.group(1)).lower(), m.group(2),
                                          _unescape(value) if value is not None else None,
                                          bool(m.group(6))))
            elif ch == ':':
                raise UsageError('pseudo-classes are not supported: %r' % text)
            else:
                break
            pos = m.end()
        if pos == start:
            raise UsageError('cannot read selector %r at position %d' % (text, pos))
        if pending_comb is not None:
            current.append(pending_comb)
        current.append(compound)
        # combinator, comma or end
        m = re.compile(r'\s*').match(text, pos)
        pos = m.end()
        if pos >= len(text):
            groups.append(current)
            return groups
        ch = text[pos]
        if ch == ',':
            groups.append(current)
            current = []
            pending_comb = None
            pos = re.compile(r'\s*').match(text, pos + 1).end()
            if pos >= len(text):
                raise UsageError('selector %r ends with a comma' % text)
        elif ch == '>':
            pending_comb = '>'
            pos = re.compile(r'\s*').match(text, pos + 1).end()
        elif ch in '+~':
            raise UsageError('the %r combinator is not supported: %r' % (ch, text))
        elif m.end() > m.start():
            pending_comb = ' '
        else:
            raise UsageError('cannot read selector %r at position %d' % (text, pos))


def _compound_matches(element, compound):
    if compound['tag'] is not None and element.tag != compound['tag']:
        return False
    for wanted in compound['ids']:
        if element.attrs.get('id') != wanted:
            return False
    if compound['classes']:
        classes = element.attrs.get('class', '').split()
        for wanted in compound['classes']:
            if wanted not in classes:
                return False
    for name, op, value, insensitive in compound['attrs']:
        if name not in element.attrs:
            return False
        if op is None:
            continue
        actual = element.attrs[name]
        if insensitive:
            actual, value = actual.lower(), value.lower()
        if op == '=' and actual != value:
            return False
        if op == '~=' and value not in actual.split():
            return False
        if op == '^=' and not (value and actual.startswith(value)):
            return False
        if op == '$=' and not (value and actual.endswith(value)):
            return False
        if op == '*=' and not (value and value in actual):
            return False
        if op == '|=' and not (actual == value or actual.startswith(value + '-')):
            return False
    return True


def _complex_matches(element, parts, index):
    if not _compound_matches(element, parts[index]):
        return False
    if index == 0:
        return True
    combinator = parts[index - 1]
    parent = element.parent
    if combinator == '>':
        return parent is not None and parent.tag != '#document' and _complex_matches(parent, parts, index - 2)
    while parent is not None and parent.tag != '#document':
        if _complex_matches(parent, parts, index - 2):
            return True
        parent = parent.parent
    return False


def count_matches(root, selector_groups):
    n = 0
    for element in elements(root):
        if any(_complex_matches(element, parts, len(parts) - 1) for parts in selector_groups):
            n += 1
    return n


# ---------------------------------------------------------------------------------------------
# Net log.


def load_net_log(path):
    """Chromium's JSON net log; a log cut short (Chromium killed) is repaired to its last event."""
    with open(path, 'r', encoding='utf-8', errors='replace') as f:
        text = f.read()
    try:
        return json.loads(text)
    except ValueError:
        pass
    cut = text.rfind('},\n')
    while cut > 0:
        try:
            return json.loads(text[:cut + 1] + ']}')
        except ValueError:
            cut = text.rfind('},\n', 0, cut)
    raise ValueError('net log %s is not readable JSON' % path)


def origin_of(url):
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    scheme = WS_TO_HTTP.get(scheme, scheme)
    host = (parts.hostname or '').lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = DEFAULT_PORTS.get(scheme)
    return scheme, host, port


def origin_text(origin):
    scheme, host, port = origin
    if ':' in host:
        host = '[%s]' % host
    return '%s://%s:%s' % (scheme, host, port)


def shown_url(url, limit=140):
    """A URL for printing: without its fragment (it may carry a session ID), shortened."""
    url = url.split('#', 1)[0]
    return url if len(url) <= limit else url[:limit - 1] + '…'


def analyse_net_log(log, target_origin, allowed_endpoints, proxy_endpoint):
    constants = log.get('constants', {})
    type_names = {v: k for k, v in constants.get('logEventTypes', {}).items()}
    error_names = {v: k for k, v in constants.get('netError', {}).items()}

    requests = {}  # source id -> dict
    order = []
    tcp_attempts = {}
    udp_connects = {}
    udp_sent_sources = set()
    resolver_jobs = []

    for event in log.get('events', []):
        name = type_names.get(event.get('type'), str(event.get('type')))
        params = event.get('params') or {}
        phase = event.get('phase')
        source = (event.get('source') or {}).get('id')

        if name == 'URL_REQUEST_START_JOB' and phase == 1 and 'url' in params:
            req = requests.setdefault(source, {'urls': [], 'method': None, 'annotation': None,
                                                'initiator': None, 'status': None, 'error': None})
            if source not in order:
                order.append(source)
            req['urls'].append(params['url'])
            req['method'] = params.get('method', req['method'])
        elif name in ('REQUEST_ALIVE', 'CORS_REQUEST') and phase == 1 and 'url' in params:
            req = requests.setdefault(source, {'urls': [], 'method': None, 'annotation': None,
                                                'initiator': None, 'status': None, 'error': None})
            if source not in order:
                order.append(source)
            if name == 'REQUEST_ALIVE':
                req['annotation'] = params.get('traffic_annotation')
            else:
                req['initiator'] = params.get('initiator')
            if not req['urls']:
                req['pending_url'] = params['url']
        elif name == 'HTTP_TRANSACTION_READ_RESPONSE_HEADERS' and source in requests:
            headers = params.get('headers') or []
            if any(h.lower().startswith('www-authenticate:') for h in headers):
                requests[source]['challenge'] = True
            if headers:
                m = re.match(r'HTTP/\S+\s+(\d+)', headers[0])
                if m:
                    requests[source]['status'] = int(m.group(1))
        elif name in ('URL_REQUEST_START_JOB', 'REQUEST_ALIVE') and phase == 2 and source in requests:
            if params.get('net_error'):
                requests[source]['error'] = params['net_error']
        elif name == 'TCP_CONNECT_ATTEMPT' and phase == 1 and 'address' in params:
            tcp_attempts[params['address']] = tcp_attempts.get(params['address'], 0) + 1
        elif name == 'UDP_CONNECT' and phase == 1 and 'address' in params:
            udp_connects[source] = params['address']
        elif name in ('UDP_BYTES_SENT', 'SOCKET_BYTES_SENT') and source in udp_connects:
            udp_sent_sources.add(source)
        elif name == 'UDP_BYTES_SENT':
            udp_sent_sources.add(source)
        elif name in ('HOST_RESOLVER_MANAGER_JOB', 'HOST_RESOLVER_SYSTEM_TASK', 'DNS_TRANSACTION') \
                and phase == 1:
            resolver_jobs.append(params.get('host') or params.get('hostname') or '?')

    same, background, foreign = [], [], []
    for source in order:
        req = requests[source]
        urls = req['urls'] or [req.get('pending_url')]
        annotation = req['annotation']
        initiator = req['initiator']
        for url in urls:
            if not url:
                continue
            scheme = urllib.parse.urlsplit(url).scheme.lower()
            entry = {
                'url': url, 'method': req['method'] or 'GET', 'status': req['status'],
                'error': error_names.get(req['error'], req['error']) if req['error'] else None,
                'annotation': annotation, 'initiator': initiator,
            }
            if scheme in LOCAL_SCHEMES:
                continue
            if origin_of(url) == target_origin:
                same.append(entry)
            elif (annotation in BROWSER_ANNOTATIONS and not _is_web_origin(initiator)
                  and req['status'] is None):
                background.append(entry)
            else:
                foreign.append(entry)

    challenged = [shown_url(requests[s]['urls'][-1]) for s in order
                  if requests[s].get('challenge') and requests[s]['urls']]
    bad_tcp = {a: n for a, n in tcp_attempts.items() if a not in allowed_endpoints and a != proxy_endpoint}
    target_host = target_origin[1]
    bad_dns = [h for h in resolver_jobs if _host_of_resolver_key(h) not in (target_host, '~notfound')]
    return {
        'same': same, 'background': background, 'foreign': foreign,
        'tcp': tcp_attempts, 'bad_tcp': bad_tcp,
        'udp_probes': sorted(set(a for s, a in udp_connects.items() if s not in udp_sent_sources)),
        'udp_sent': sorted(set(udp_connects.get(s, '?') for s in udp_sent_sources)),
        'dns': resolver_jobs, 'bad_dns': bad_dns, 'challenged': challenged,
    }


def _is_web_origin(initiator):
    return isinstance(initiator, str) and re.match(r'^[a-z][a-z0-9+.-]*://', initiator) is not None


def _host_of_resolver_key(key):
    if '://' in key:
        return (urllib.parse.urlsplit(key).hostname or '').lower()
    return key.rsplit(':', 1)[0].strip('[]').lower() if key.count(':') == 1 else key.strip('[]').lower()


# ---------------------------------------------------------------------------------------------
# Chromium.


def find_chromium(explicit):
    candidates = [explicit] if explicit else ([os.environ['CHROMIUM']] if os.environ.get('CHROMIUM') else [])
    candidates += list(DEFAULT_CHROMIUM_CANDIDATES) if not explicit else []
    for candidate in candidates:
        path = candidate if os.path.sep in candidate else shutil.which(candidate)
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise UsageError('no Chromium found (tried %s); install Debian\'s chromium or pass --chromium'
                     % ', '.join(candidates))


def hold_dead_port():
    """A loopback TCP port bound by us and never listened on: connections to it are refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(('127.0.0.1', 0))
    return sock, sock.getsockname()[1]


def chromium_command(chromium, url, target, proxy_port, profile_dir, net_log, wait_ms,
                     window_size, mode, extra_args):
    scheme, host, port = target
    host_port = ('[%s]' % host if ':' in host else host) + ':%d' % port
    args = [
        chromium,
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--user-data-dir=' + profile_dir,
        '--no-first-run',
        '--no-default-browser-check',
        '--disable-extensions',
        '--disable-component-extensions-with-background-pages',
        '--disable-default-apps',
        '--disable-sync',
        '--disable-component-update',
        '--disable-background-networking',
        '--disable-domain-reliability',
        '--disable-client-side-phishing-detection',
        '--disable-breakpad',
        '--metrics-recording-only',
        '--no-pings',
        '--password-store=basic',
        '--disable-dev-shm-usage',
        '--mute-audio',
        '--disable-features=NetworkTimeServiceQuerying,AutofillServerCommunication,'
        'OptimizationHints,OptimizationGuideModelDownloading,Translate,MediaRouter',
        '--proxy-server=http://127.0.0.1:%d' % proxy_port,
        '--proxy-bypass-list=<-loopback>;%s://%s' % (scheme, host_port),
        '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE %s' % host,
        '--log-net-log=' + net_log,
        '--net-log-capture-mode=Default',
        '--enable-logging=stderr',
        '--v=0',
        '--lang=en-US',
        '--force-device-scale-factor=1',
        '--window-size=%d,%d' % window_size,
        '--virtual-time-budget=%d' % wait_ms,
    ]
    if mode == 'dom':
        args.append('--dump-dom')
    else:
        args += ['--hide-scrollbars', '--screenshot=' + mode]
    args += list(extra_args)
    args.append(url)
    return args


def chromium_env(home):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('GOOGLE_API_KEY', 'GOOGLE_DEFAULT_CLIENT', 'CHROME_', 'CHROMIUM_FLAGS'))}
    env.update({'HOME': home, 'XDG_CONFIG_HOME': os.path.join(home, '.config'),
                'XDG_CACHE_HOME': os.path.join(home, '.cache'), 'LANG': 'C.UTF-8'})
    env.pop('http_proxy', None)
    env.pop('https_proxy', None)
    env.pop('HTTP_PROXY', None)
    env.pop('HTTPS_PROXY', None)
    env.pop('ALL_PROXY', None)
    env.pop('all_proxy', None)
    return env


def run_chromium(args, env, timeout):
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # Chromium's own process group, started above
        out, err = proc.communicate()
        return None, out, err
    return proc.returncode, out, err


CONSOLE_LINE = re.compile(r':CONSOLE(?::\d+|\(\d+\))\]\s*(.*)$')


def console_messages(stderr_text):
    messages = []
    for line in stderr_text.splitlines():
        m = CONSOLE_LINE.search(line)
        if m:
            messages.append(m.group(1))
    return messages


# ---------------------------------------------------------------------------------------------


class Report:
    def __init__(self):
        self.failures = []
        self.passed = 0

    def ok(self, text):
        self.passed += 1
        print('  PASS  ' + text)

    def fail(self, text):
        self.failures.append(text)
        print('  FAIL  ' + text)

    def check(self, condition, text):
        (self.ok if condition else self.fail)(text)


def describe_request(entry):
    if entry['error']:
        result = entry['error']
    elif entry['status'] is not None:
        result = str(entry['status'])
    else:
        result = '-'
    kind = PAGE_ANNOTATIONS.get(entry['annotation']) or BROWSER_ANNOTATIONS.get(entry['annotation'])
    return '%-6s %-28s %s%s' % (entry['method'], result, shown_url(entry['url']),
                                '  [%s]' % kind if kind else '')


def check_network(report, analysis, target_origin, strict, label):
    same, background, foreign = analysis['same'], analysis['background'], analysis['foreign']
    print('%s: %d request(s) to %s' % (label, len(same), origin_text(target_origin)))
    for entry in same:
        print('        ' + describe_request(entry))
    if background:
        print('%s: %d background request(s) of Chromium itself, refused inside Chromium '
              '(dead proxy / NOTFOUND), never sent:' % (label, len(background)))
        for entry in background:
            print('        ' + describe_request(entry))
    if foreign:
        print('%s: %d request(s) to other origins:' % (label, len(foreign)))
        for entry in foreign:
            print('        ' + describe_request(entry))

    report.check(bool(same), '%s: the net log shows the page\'s own requests' % label)
    report.check(not foreign, '%s: no request to another origin than %s%s' % (
        label, origin_text(target_origin),
        '' if not foreign else ' — ' + '; '.join(shown_url(e['url'], 90) for e in foreign)))
    if strict:
        report.check(not background, '%s: (--strict) no background request of Chromium itself' % label)
    tcp = ', '.join('%s ×%d' % (a, n) for a, n in sorted(analysis['tcp'].items())) or 'none'
    report.check(not analysis['bad_tcp'], '%s: TCP connections only to the page\'s server or the dead '
                 'proxy (%s)%s' % (label, tcp, (' — not allowed: ' + ', '.join(sorted(analysis['bad_tcp'])))
                                   if analysis['bad_tcp'] else ''))
    report.check(not analysis['udp_sent'], '%s: no UDP datagram sent%s%s' % (
        label, (' — sent to ' + ', '.join(analysis['udp_sent'])) if analysis['udp_sent'] else '',
        (' (route probes without data: %s)' % ', '.join(analysis['udp_probes'])) if analysis['udp_probes'] else ''))
    report.check(not analysis['bad_dns'], '%s: no DNS lookup of another host%s' % (
        label, (' — ' + ', '.join(analysis['bad_dns'])) if analysis['bad_dns'] else ''))

    pages = [e for e in same if PAGE_ANNOTATIONS.get(e['annotation']) == 'navigation']
    if pages:
        main = pages[-1] if all(p['status'] in (301, 302, 303, 307, 308) for p in pages[:-1]) else pages[0]
        loaded = not main['error'] and main['status'] is not None and main['status'] < 400
        report.check(loaded, '%s: the page loaded (%s %s)' % (
            label, main['error'] or 'HTTP %s' % main['status'], shown_url(main['url'])))
    else:
        report.fail('%s: no navigation to the page in the net log' % label)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='browser-check.py',
        description=__doc__.split('\n\n', 1)[0],
        epilog='Details: the docstring at the top of integration/browser-check.py.',
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--url', required=True, help='page to load (http or https)')
    parser.add_argument('--expect-selector', action='append', default=[], metavar='CSS',
                        help='at least one element must match (repeatable)')
    parser.add_argument('--reject-selector', action='append', default=[], metavar='CSS',
                        help='no element may match (repeatable)')
    parser.add_argument('--expect-count', action='append', nargs=2, default=[], metavar=('CSS', 'N'),
                        help='exactly N elements must match (repeatable)')
    parser.add_argument('--expect-text', action='append', default=[], metavar='TEXT',
                        help="must appear in the page's text (repeatable)")
    parser.add_argument('--reject-text', action='append', default=[], metavar='TEXT',
                        help="must not appear in the page's text (repeatable)")
    parser.add_argument('--wait-ms', type=int, default=8000, metavar='N',
                        help='virtual time budget for the page, in ms (default 8000)')
    parser.add_argument('--dump', metavar='FILE', help='write the rendered DOM to FILE')
    parser.add_argument('--screenshot', metavar='FILE',
                        help='also load the page a second time and save a PNG screenshot')
    parser.add_argument('--window-size', default='1200,900', metavar='W,H',
                        help='window size for layout and --screenshot (default 1200,900)')
    parser.add_argument('--allow-csp-violations', action='store_true',
                        help='do not fail on Content-Security-Policy violations on the console')
    parser.add_argument('--strict', action='store_true',
                        help="also fail on Chromium's own (blocked) background requests")
    parser.add_argument('--chromium', metavar='PATH',
                        help='Chromium binary (default: $CHROMIUM, /usr/lib/chromium/chromium, '
                             '/usr/bin/chromium, chromium on PATH)')
    parser.add_argument('--chromium-arg', action='append', default=[], metavar='ARG',
                        help='extra Chromium switch, e.g. --chromium-arg=--lang=de (repeatable)')
    parser.add_argument('--timeout', type=float, default=None, metavar='S',
                        help='wall-clock limit per Chromium run (default: wait-ms/1000 + 60)')
    parser.add_argument('--keep-temp', action='store_true',
                        help='keep the temporary profile and net log (path printed)')
    parser.add_argument('--verbose', action='store_true',
                        help="print Chromium's command line and its stderr")
    args = parser.parse_args(argv)

    try:
        return run(args)
    except UsageError as error:
        print('browser-check: %s' % error, file=sys.stderr)
        return 2


def run(args):
    target = origin_of(args.url)
    if target[0] not in ('http', 'https') or not target[1] or target[2] is None:
        raise UsageError('--url must be an absolute http(s) URL, got %r' % args.url)
    if args.wait_ms < 0:
        raise UsageError('--wait-ms must be at least 0')
    m = re.match(r'^(\d+),(\d+)$', args.window_size)
    if not m:
        raise UsageError('--window-size must be W,H')
    window_size = (int(m.group(1)), int(m.group(2)))
    selectors = [(css, parse_selector_list(css)) for css in args.expect_selector]
    rejected = [(css, parse_selector_list(css)) for css in args.reject_selector]
    counts = []
    for css, n in args.expect_count:
        if not n.isdigit():
            raise UsageError('--expect-count %r: N must be a number, got %r' % (css, n))
        counts.append((css, parse_selector_list(css), int(n)))
    chromium = find_chromium(args.chromium)
    timeout = args.timeout if args.timeout else args.wait_ms / 1000.0 + 60

    try:
        allowed = set()
        for family, _, _, _, sockaddr in socket.getaddrinfo(target[1], target[2], proto=socket.IPPROTO_TCP):
            address = sockaddr[0]
            allowed.add('[%s]:%d' % (address, target[2]) if family == socket.AF_INET6 else '%s:%d' % (address, target[2]))
    except socket.gaierror as error:
        raise UsageError('cannot resolve %s: %s' % (target[1], error))
    if target[1] == 'localhost' or target[1].endswith('.localhost'):
        # Chromium resolves these names to both loopback addresses itself, whatever /etc/hosts says.
        allowed |= {'127.0.0.1:%d' % target[2], '[::1]:%d' % target[2]}

    report = Report()
    temp = tempfile.mkdtemp(prefix='browser-check-')
    dead_socket, dead_port = hold_dead_port()
    proxy_endpoint = '127.0.0.1:%d' % dead_port
    print('browser-check: %s' % shown_url(args.url, 300))
    print('chromium: %s; only %s reachable; everything else goes to the dead proxy %s'
          % (chromium, origin_text(target), proxy_endpoint))
    try:
        runs = [('page', 'dom')]
        if args.screenshot:
            runs.append(('screenshot', os.path.abspath(args.screenshot)))
        dom_text = None
        console = []
        for label, mode in runs:
            net_log = os.path.join(temp, 'netlog-%s.json' % label)
            profile = os.path.join(temp, 'profile-%s' % label)
            home = os.path.join(temp, 'home-%s' % label)
            os.makedirs(home)
            command = chromium_command(chromium, args.url, target, dead_port, profile, net_log,
                                       args.wait_ms, window_size, mode, args.chromium_arg)
            if args.verbose:
                shown = command[:-1] + [shown_url(command[-1], 10 ** 6) + ('#…' if '#' in command[-1] else '')]
                print('command: ' + ' '.join(_quote(a) for a in shown))
            code, out, err = run_chromium(command, chromium_env(home), timeout)
            err_text = err.decode('utf-8', 'replace')
            if args.verbose:
                print('--- chromium stderr (%s) ---\n%s--- end ---' % (label, err_text))
            if code is None:
                report.fail('%s: Chromium did not finish within %.0f s (killed)' % (label, timeout))
            elif code != 0:
                tail = '\n'.join(err_text.strip().splitlines()[-5:])
                report.fail('%s: Chromium exited with status %d:\n%s' % (label, code, tail))
            if label == 'page':
                dom_text = out.decode('utf-8', 'replace')
            console += [(label, c) for c in console_messages(err_text)]
            if not os.path.exists(net_log):
                report.fail('%s: Chromium wrote no net log, so the page\'s requests cannot be checked' % label)
                continue
            try:
                log = load_net_log(net_log)
            except ValueError as error:
                report.fail('%s: %s' % (label, error))
                continue
            analysis = analyse_net_log(log, target, allowed, proxy_endpoint)
            check_network(report, analysis, target, args.strict, label)
            if code is None and analysis['challenged']:
                print('  hint: %s was answered 401 with WWW-Authenticate; Chromium then waits for its '
                      'login dialog, which headless Chromium never shows or cancels'
                      % analysis['challenged'][0])
            if label == 'screenshot':
                report.check(os.path.isfile(mode) and os.path.getsize(mode) > 0,
                             'screenshot: written to %s' % mode)

        # Console and CSP.
        if console:
            print('console (%d message(s)):' % len(console))
            for label, message in console:
                print('        [%s] %s' % (label, message[:400]))
        else:
            print('console: no message')
        violations = [m for _, m in console if any(k in m for k in CSP_MARKERS)]
        if args.allow_csp_violations:
            print('  (CSP violations allowed: %d)' % len(violations))
        else:
            report.check(not violations, 'no Content-Security-Policy violation on the console%s'
                         % ((' — %d, first: %s' % (len(violations), violations[0][:300])) if violations else ''))

        # DOM.
        if dom_text is not None:
            if args.dump:
                with open(args.dump, 'w', encoding='utf-8') as f:
                    f.write(dom_text)
                print('DOM written to %s (%d bytes)' % (args.dump, len(dom_text.encode('utf-8'))))
            if not dom_text.strip():
                report.fail('Chromium printed no DOM')
            else:
                root = parse_dom(dom_text)
                text = page_text(root)
                for css, groups in selectors:
                    n = count_matches(root, groups)
                    report.check(n > 0, 'selector %s matches %d element(s)' % (css, n))
                for css, groups in rejected:
                    n = count_matches(root, groups)
                    report.check(n == 0, 'selector %s matches %d element(s), expected none' % (css, n))
                for css, groups, wanted in counts:
                    n = count_matches(root, groups)
                    report.check(n == wanted, 'selector %s matches %d element(s), expected %d' % (css, n, wanted))
                for wanted in args.expect_text:
                    needle = ' '.join(wanted.split())
                    report.check(needle in text, 'text %r %s' % (wanted, 'present' if needle in text else 'NOT present'))
                for unwanted in args.reject_text:
                    needle = ' '.join(unwanted.split())
                    report.check(needle not in text, 'text %r %s' % (unwanted, 'absent' if needle not in text else 'PRESENT'))
                if report.failures and (args.expect_text or args.reject_text):
                    print('page text (first 600 characters): %s' % text[:600])
    finally:
        dead_socket.close()
        if args.keep_temp:
            print('temporary files kept in %s' % temp)
        else:
            shutil.rmtree(temp, ignore_errors=True)

    if report.failures:
        print('browser-check: FAILED (%d of %d checks): %s' % (
            len(report.failures), len(report.failures) + report.passed,
            '; '.join(f.split('\n')[0] for f in report.failures)))
        return 1
    print('browser-check: OK (%d checks passed)' % report.passed)
    return 0


def _quote(arg):
    return arg if re.match(r'^[\w@%+=:,./-]+$', arg) else "'" + arg.replace("'", "'\\''") + "'"


if __name__ == '__main__':
    sys.exit(main())
