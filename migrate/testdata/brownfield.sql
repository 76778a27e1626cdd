-- A hand-built database as a team adopting uno has it: several schemas,
-- serial and identity keys, composite keys, CHECK and exclusion
-- constraints, partial and expression indexes, a range-partitioned table,
-- a view and a materialized view, a domain, a composite type, an enum and
-- an enum array, a stored generated column, a trigger, row-level security
-- with a policy, grants to another role, deferrable constraints, a
-- collation, a shared sequence, and hostile names. {{auditor}} is replaced by a role name.

CREATE SCHEMA sales;
CREATE SCHEMA "we""ird";

CREATE TYPE sales.status AS ENUM ('new', 'paid', 'it''s shipped');
CREATE DOMAIN sales.money12 AS numeric(12,2) CHECK (VALUE >= 0);
CREATE TYPE sales.address AS (street text, city text);

CREATE TABLE sales.customer (
    id bigserial PRIMARY KEY,
    email varchar(255) NOT NULL,
    name text COLLATE "C" NOT NULL,
    tier smallint NOT NULL DEFAULT 1 CHECK (tier BETWEEN 1 AND 3),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT customer_email_key UNIQUE (email) DEFERRABLE INITIALLY IMMEDIATE
);
CREATE INDEX customer_lower_email ON sales.customer (lower(email));

CREATE TABLE sales."order" (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES sales.customer (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    status sales.status NOT NULL DEFAULT 'new',
    tags sales.status[],
    total sales.money12 NOT NULL DEFAULT 0,
    ship_to sales.address,
    during tstzrange,
    total_cents bigint GENERATED ALWAYS AS ((total * 100)::bigint) STORED,
    EXCLUDE USING gist (during WITH &&) WHERE (status = 'new')
);
CREATE INDEX order_open ON sales."order" (customer_id) WHERE status <> 'paid';

CREATE TABLE sales.order_line (
    order_id integer REFERENCES sales."order" (id),
    line_no integer,
    sku text NOT NULL,
    qty integer NOT NULL CHECK (qty > 0),
    PRIMARY KEY (order_id, line_no)
);

CREATE TABLE sales.event (
    id bigint,
    at timestamptz NOT NULL,
    payload jsonb,
    PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
CREATE TABLE sales.event_2026 PARTITION OF sales.event FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');

CREATE SEQUENCE sales."ticket no" AS integer;
CREATE TABLE sales.ticket (
    id smallserial PRIMARY KEY,
    "no" integer NOT NULL DEFAULT nextval('sales."ticket no"'),
    code text COLLATE "POSIX" NOT NULL,
    fee sales.money12,
    order_id integer REFERENCES sales."order" (id) DEFERRABLE,
    CONSTRAINT ticket_code UNIQUE (code) DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX "ticket up;per" ON sales.ticket (upper(code), "no") WHERE "no" > 0;

CREATE VIEW sales.big_orders AS SELECT id, total FROM sales."order" WHERE total > 100;
CREATE MATERIALIZED VIEW sales.customer_totals AS SELECT customer_id, sum(total) AS total FROM sales."order" GROUP BY 1;

CREATE FUNCTION sales.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.created_at := coalesce(NEW.created_at, now());
    RETURN NEW;
END
$$;
CREATE TRIGGER "touch;it" BEFORE INSERT OR UPDATE ON sales.customer FOR EACH ROW EXECUTE FUNCTION sales.touch();

ALTER TABLE sales."order" ENABLE ROW LEVEL SECURITY;
ALTER TABLE sales."order" FORCE ROW LEVEL SECURITY;
CREATE POLICY "own orders" ON sales."order" USING (customer_id::text = current_setting('app.customer', true));

GRANT SELECT ON sales.customer TO {{auditor}};
GRANT SELECT, INSERT ON sales."order" TO {{auditor}};

CREATE TABLE "we""ird"."user" (
    "na;me" text PRIMARY KEY,
    "select" integer,
    "it's" boolean NOT NULL DEFAULT false
);

INSERT INTO sales.customer (email, name, tier) VALUES ('a@example.com', 'Ann', 1), ('b@example.com', 'Bob', 3);
INSERT INTO sales."order" (customer_id, status, tags, total, during)
    VALUES (1, 'paid', '{new,paid}', 120.50, '[2026-01-01,2026-01-02)'), (2, 'new', NULL, 5, NULL);
INSERT INTO sales.order_line VALUES (1, 1, 'x', 2), (1, 2, 'y', 1);
INSERT INTO sales.ticket (code, fee, order_id) VALUES ('t-1', 3, 1);
INSERT INTO sales.event VALUES (1, '2026-05-01', '{"a": 1}');
INSERT INTO "we""ird"."user" VALUES ('root;', 1, true);
