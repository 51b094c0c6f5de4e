INSERT INTO leave_types (name, paid) VALUES ('vacation', 1), ('sick', 1), ('unpaid', 0), ('parental', 1);
INSERT INTO opportunity_stages (name, position) VALUES ('lead', 1), ('qualified', 2), ('proposal', 3), ('won', 4), ('lost', 5);
INSERT INTO carriers (name) VALUES ('Post'), ('Express'), ('Freight');
