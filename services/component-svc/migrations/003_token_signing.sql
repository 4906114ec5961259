-- component-svc: signed webhooks, optional per CI token. signing_secret_box
-- is the token's Standard Webhooks secret sealed under a key derived from
-- the token itself (lib signing.h): useless without the token, which is
-- stored only as its SHA-256. NULL: the token does not sign. The webhook's
-- read-only role reads it through its SELECT on the whole table.

ALTER TABLE component.tokens ADD COLUMN signing_secret_box text;
