"""Help that scales: versioned help pages and FAQ (Markdown), contextual help links, and
questions to a policy's referents. See docs/help.md."""
