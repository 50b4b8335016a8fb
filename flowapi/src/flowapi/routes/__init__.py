"""The API routes, one blueprint per area (`query`, `data`, `qa`, `spec`); `create_app` mounts each under
`API_PREFIX`. Routes use the request helpers (`access_checks`, `query_specs`, `result_files`, `responses`,
`request_record`, `state`), never the app factory."""

API_PREFIX = "/api/0"
