// Starts Swagger UI on /docs: the document from this gateway, "Try it out" against this gateway
// (the document's first server is "/"), bearer auth from the Authorize button, and no request
// to any other host (no online validator).
"use strict";
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    validatorUrl: null,
    tryItOutEnabled: false,
    defaultModelsExpandDepth: 1,
    displayRequestDuration: true,
    showExtensions: true,
  });
});
