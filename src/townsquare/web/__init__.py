"""The agent web app (server-rendered, live through SSE) and, later, the public status page."""
