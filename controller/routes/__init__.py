"""HTTP routes: the JSON API, the web panel and media."""
