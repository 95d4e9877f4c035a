"""What a snapshot is: its ids, its metadata contract, its JSON, its flattening, a project's catalog."""
