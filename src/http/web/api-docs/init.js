// Veza's interactive API page: Swagger UI on the server's own document. No inline script, so the
// page keeps the strict CSP; "Authorize" takes an access token from POST /api/v2/auth/login.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/v2/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    tryItOutEnabled: true,
    persistAuthorization: false,
    validatorUrl: null,
  });
});
