"""Infrastructure: one stack composes constructs; each construct owns one concern."""
