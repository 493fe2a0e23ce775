/*
 * Mailbox Gateway: interactive API documentation (GET /docs).
 * Loaded by /docs/index.html after /docs/swagger-ui-bundle.js; no inline script, so the page
 * works under "Content-Security-Policy: default-src 'self'; img-src 'self' data:;
 * style-src 'self' 'unsafe-inline'". Everything is served by the gateway itself.
 */
(function () {
  'use strict';

  function start() {
    var root = document.getElementById('swagger-ui');
    if (typeof window.SwaggerUIBundle !== 'function') {
      root.textContent = 'Swagger UI could not be loaded (/docs/swagger-ui-bundle.js). ' +
        'The API description itself is at /api/v1/openapi.yaml.';
      return;
    }
    root.textContent = '';
    window.ui = window.SwaggerUIBundle({
      url: '/api/v1/openapi.yaml',
      dom_id: '#swagger-ui',
      deepLinking: true,
      // No request to the public validator (validator.swagger.io) and no badge.
      validatorUrl: null,
      // Ignore ?url= / ?configUrl= in the address: this page shows this gateway's API only.
      queryConfigEnabled: false,
      presets: [window.SwaggerUIBundle.presets.apis],
      plugins: [window.SwaggerUIBundle.plugins.DownloadUrl],
      layout: 'BaseLayout',
      docExpansion: 'list',
      defaultModelsExpandDepth: 0,
      displayRequestDuration: true,
      filter: true,
      // Credentials typed into "Authorize" stay in this tab's memory only.
      persistAuthorization: false
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
}());
