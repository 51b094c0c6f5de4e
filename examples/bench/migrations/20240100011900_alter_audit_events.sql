ALTER TABLE audit_events ADD KEY audit_events_action (action, created_at);
