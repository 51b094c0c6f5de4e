-- Rows written through the procedure and the triggers: copying them must not fire the triggers again.
CALL add_child(1, 5);
