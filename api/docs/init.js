// Scalar API reference, served offline (bundle vendored from npm
// @scalar/api-reference, see docs/VERSION).
Scalar.createApiReference('#app', {
  url: '/openapi.json',
  withDefaultFonts: false,
  hideClientButton: false,
  telemetry: false,
  defaultOpenAllTags: true,
  metaData: { title: 'zapbase — referência da API' },
});
