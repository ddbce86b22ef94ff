"""Matrix: a bot account in rooms and direct chats on any homeserver."""
