// Swagger UI for this API. Kept out of the page so its Content-Security-Policy allows scripts from 'self' only.
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    deepLinking: true,
    displayOperationId: true,
    // Swagger UI would fetch a badge from the online validator: the docs must work without a network.
    validatorUrl: null,
  });
});
