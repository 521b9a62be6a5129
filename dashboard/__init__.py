"""The live dashboard's static files (index.html, dashboard.css, dashboard.js), served by `api.server`."""
