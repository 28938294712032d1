CREATE TABLE accounts (
    id    SERIAL PRIMARY KEY,
    email TEXT NOT NULL UNIQUE
);
