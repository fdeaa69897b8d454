"""Review campaigns: opening, what contributors owe, reminders and frozen snapshots."""
