ALTER TABLE notifications ADD KEY notifications_unread (user_id, read_at);
