"""Web chat: a small script a company embeds on its own website, so a visitor chats live with the
agents, who answer in the normal Townsquare inbox.

The "network" is Townsquare itself: `WebchatService` (service.py) serves the widget and the
visitor endpoints under `/webchat/`, `WebchatConnector` (connector.py) delivers the agents' replies
to the visitor's live stream through the visitor hub (live.py).
"""
