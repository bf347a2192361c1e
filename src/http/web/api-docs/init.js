// Veza's interactive API page: Swagger UI on the server's own document. No inline script, so the
// page keeps the strict CSP; "Authorize" takes an access token from POST /api/v2/auth/login.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/v2/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    // Tags start folded: with every operation open at once (the default, "list"), Swagger UI 5.36
    // stopped rendering after the first two tags once the document passed ~116 operations.
    docExpansion: "none",
    tryItOutEnabled: true,
    persistAuthorization: false,
    validatorUrl: null,
  });
});
