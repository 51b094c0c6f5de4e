ALTER TABLE subscriptions ADD COLUMN renews_on DATE NULL;
