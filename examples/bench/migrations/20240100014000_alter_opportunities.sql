ALTER TABLE opportunities ADD COLUMN closes_on DATE NULL;
