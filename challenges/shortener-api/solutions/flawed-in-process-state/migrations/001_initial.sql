-- Links and their per-day click counts (the worker adds to them; redirects never write here).
CREATE TABLE links (
    id         BIGSERIAL PRIMARY KEY,
    code       TEXT NOT NULL UNIQUE,
    url        TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE click_counts (
    link_id BIGINT NOT NULL REFERENCES links (id) ON DELETE CASCADE,
    day     DATE   NOT NULL,
    clicks  BIGINT NOT NULL CHECK (clicks >= 0),
    PRIMARY KEY (link_id, day)
);
