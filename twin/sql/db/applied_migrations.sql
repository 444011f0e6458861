SELECT id, checksum FROM twin_migrations
