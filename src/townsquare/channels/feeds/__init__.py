"""RSS/Atom feeds: a polling, read-only connector for listening to blogs, forums and review sites."""
