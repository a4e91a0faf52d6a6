"""Catalog schema, as an ordered list of migrations.

A migration is applied once, in order, and recorded in `schema_migrations`. Never edit a
migration that has shipped: add a new one. Numbers are claimed per area so parallel work
does not collide: 1 datasets, 2 curation, 3 training runs, 4 evals, 5 synthesis,
6 ablations; later changes take the next free number.
"""

MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE versions (
        id        VARCHAR PRIMARY KEY,   -- hash of the normalized records, in order
        name      VARCHAR NOT NULL,
        created   TIMESTAMP NOT NULL,
        n_rows    BIGINT NOT NULL,
        path      VARCHAR NOT NULL,      -- Parquet body, relative to WORKBENCH_HOME
        operation VARCHAR NOT NULL,      -- ingest | curate | synth | mix | ...
        stats     JSON,                  -- rows, turns, chars, tokens by source and mode
        meta      JSON                   -- operation-specific extras (e.g. the input spec)
    );
    CREATE TABLE lineage (
        parent    VARCHAR NOT NULL,
        child     VARCHAR NOT NULL,
        operation VARCHAR NOT NULL,
        params    JSON,
        created   TIMESTAMP NOT NULL,
        PRIMARY KEY (parent, child, operation)
    );
    -- One row per record dropped on the way to `version` (parent: where it came from;
    -- for ingest rejects the record id is the input location and parent is NULL).
    CREATE TABLE removals (
        version   VARCHAR NOT NULL,
        parent    VARCHAR,
        record_id VARCHAR NOT NULL,
        step      VARCHAR NOT NULL,
        reason    VARCHAR NOT NULL,
        detail    VARCHAR,
        PRIMARY KEY (version, record_id)
    );
    """,
    3: """
    -- One row per training run; its id is a hash of (dataset version, base model identity,
    -- resolved train config, seed), so asking for the same run again finds this row.
    CREATE TABLE runs (
        id              VARCHAR PRIMARY KEY,
        version_id      VARCHAR NOT NULL,
        base_model      VARCHAR NOT NULL,    -- the spec as given: bundled name, directory or hub id
        base_model_path VARCHAR NOT NULL,    -- what from_pretrained loads
        base_model_hash VARCHAR NOT NULL,
        run_dir         VARCHAR NOT NULL,
        adapter_dir     VARCHAR NOT NULL,    -- absolute path of the peft adapter (+ tokenizer)
        status          VARCHAR NOT NULL,    -- running | finished | failed
        mode            VARCHAR NOT NULL,    -- qlora-nf4 | lora-fp32 | lora-bf16
        mode_reason     VARCHAR,
        config          JSON NOT NULL,       -- resolved TrainConfig
        seed            INTEGER NOT NULL,
        pid             INTEGER,
        error           VARCHAR,
        attempts        INTEGER NOT NULL,
        n_train         INTEGER,
        n_eval          INTEGER,
        train_tokens    BIGINT,
        wall_s          DOUBLE,
        tokens_per_s    DOUBLE,
        peak_mem_mb     DOUBLE,
        final_loss      DOUBLE,
        sanity          JSON,                -- post-training generations on held-out prompts
        meta            JSON,
        created         TIMESTAMP NOT NULL,
        updated         TIMESTAMP NOT NULL,
        finished        TIMESTAMP
    );
    -- Logged training steps (loss, learning rate) and evaluations (eval_loss), one row per step.
    CREATE TABLE run_steps (
        run_id    VARCHAR NOT NULL,
        step      INTEGER NOT NULL,
        loss      DOUBLE,
        eval_loss DOUBLE,
        lr        DOUBLE,
        epoch     DOUBLE,
        grad_norm DOUBLE,
        PRIMARY KEY (run_id, step)
    );
    """,
    4: """
    -- One row per (model, suite, layer, settings): the suite aggregates. Its id is the cache
    -- key, a hash of (model or adapter content hash, suite content hash, generation settings).
    CREATE TABLE eval_results (
        id          VARCHAR PRIMARY KEY,
        model_key   VARCHAR NOT NULL,    -- content hash of the base model (+ adapter)
        target      VARCHAR NOT NULL,    -- what was asked for: bundled name, directory, hub id or run id
        run_id      VARCHAR,             -- the training run, when the target was one
        suite       VARCHAR NOT NULL,
        layer       VARCHAR NOT NULL,    -- smoke | core
        suite_hash  VARCHAR NOT NULL,
        settings    JSON NOT NULL,       -- generation settings that feed the cache key
        n_items     INTEGER NOT NULL,
        metrics     JSON NOT NULL,       -- lm-eval aggregates, e.g. {"prompt_level_strict_acc": 0.2}
        primary_metric VARCHAR,
        gen_tokens  BIGINT,
        wall_s      DOUBLE,
        created     TIMESTAMP NOT NULL
    );
    -- One row per item of a result: what the model saw, what it said, and each metric's score.
    CREATE TABLE eval_samples (
        result_id   VARCHAR NOT NULL,
        item_id     VARCHAR NOT NULL,
        model_key   VARCHAR NOT NULL,
        suite       VARCHAR NOT NULL,
        layer       VARCHAR NOT NULL,
        prompt      VARCHAR,
        response    VARCHAR,
        scores      JSON NOT NULL,
        PRIMARY KEY (result_id, item_id)
    );
    """,
    5: """
    -- Generated responses, one row per (prompt, mode, teacher, settings, generation index).
    -- It is the resume point of a synth run: rows written per batch are never generated again.
    CREATE TABLE synth_generations (
        key           VARCHAR PRIMARY KEY,
        prompt_id     VARCHAR NOT NULL,
        mode          VARCHAR NOT NULL,      -- think | no_think
        teacher       VARCHAR NOT NULL,
        settings_hash VARCHAR NOT NULL,
        gen_index     INTEGER NOT NULL,
        text          VARCHAR NOT NULL,
        output_tokens INTEGER NOT NULL,
        created       TIMESTAMP NOT NULL
    );
    """,
    2: """
    -- Curation: the per-step summary of the run that made a version, records flagged (kept
    -- but marked, e.g. decontamination with action=flag) and dedup clusters with members.
    CREATE TABLE curation_steps (
        version     VARCHAR NOT NULL,
        position    INTEGER NOT NULL,    -- order in the recipe
        parent      VARCHAR NOT NULL,
        recipe_hash VARCHAR NOT NULL,
        step        VARCHAR NOT NULL,
        n_in        BIGINT NOT NULL,
        kept        BIGINT NOT NULL,
        dropped     BIGINT NOT NULL,
        flagged     BIGINT NOT NULL,
        top_reasons JSON,                -- [[reason, count], ...]
        report      JSON,                -- step extras (per-suite hits, LSH shape...)
        wall_s      DOUBLE,
        PRIMARY KEY (version, position)
    );
    CREATE TABLE curation_flags (
        version   VARCHAR NOT NULL,
        record_id VARCHAR NOT NULL,
        step      VARCHAR NOT NULL,
        reason    VARCHAR NOT NULL,
        detail    VARCHAR,
        PRIMARY KEY (version, record_id, step)
    );
    CREATE TABLE dedup_clusters (
        version    VARCHAR NOT NULL,
        step       VARCHAR NOT NULL,
        cluster_id VARCHAR NOT NULL,
        record_id  VARCHAR NOT NULL,
        kept       BOOLEAN NOT NULL,
        similarity DOUBLE,               -- to the kept member (est. Jaccard, cosine, 1 = exact)
        measure    VARCHAR,
        size       INTEGER NOT NULL,
        text       VARCHAR,              -- the member's text, truncated, for side-by-side views
        PRIMARY KEY (version, step, cluster_id, record_id)
    );
    """,
    6: """
    -- One row per ablation (its spec, as run last); one row per task of it. A task's id is a
    -- content hash of its inputs, so the same step in another ablation is found and reused.
    CREATE TABLE ablations (
        name      VARCHAR PRIMARY KEY,
        spec      JSON NOT NULL,
        spec_hash VARCHAR NOT NULL,
        spec_path VARCHAR,
        created   TIMESTAMP NOT NULL,
        updated   TIMESTAMP NOT NULL
    );
    CREATE TABLE ablation_tasks (
        ablation  VARCHAR NOT NULL,
        task_id   VARCHAR NOT NULL,
        kind      VARCHAR NOT NULL,      -- build | train | eval
        variant   VARCHAR NOT NULL,      -- variant name, or 'base' for the untrained model
        seed      INTEGER,
        label     VARCHAR NOT NULL,
        inputs    JSON,
        status    VARCHAR NOT NULL,      -- running | done | failed
        output    JSON,                  -- e.g. the version id, run id, eval result keys
        error     VARCHAR,
        pid       INTEGER,
        attempts  INTEGER NOT NULL,
        started   TIMESTAMP,
        finished  TIMESTAMP,
        wall_s    DOUBLE,
        PRIMARY KEY (ablation, task_id)
    );
    """,
    7: """
    -- Each result says which way its metrics point ({"bits_per_byte": false, "pass": true}),
    -- so compare, the report and the view read the direction rather than assume it, and how
    -- long of its wall time went to teacher-forced likelihood scoring.
    ALTER TABLE eval_results ADD COLUMN higher_is_better JSON;
    ALTER TABLE eval_results ADD COLUMN likelihood_s DOUBLE;
    """,
    8: """
    -- Who is running a task right now: one row per held task, deleted on release. A second
    -- writer waits while the holder's heartbeat is fresh, and takes the task over when the
    -- heartbeat is stale or (on the same host) the holder's process is gone.
    CREATE TABLE leases (
        task_id   VARCHAR PRIMARY KEY,
        holder    VARCHAR NOT NULL,      -- host:pid:start-token of the holding process
        ablation  VARCHAR,               -- the ablation that asked for the task
        label     VARCHAR,
        acquired  TIMESTAMP NOT NULL,
        heartbeat TIMESTAMP NOT NULL
    );
    """,
    9: """
    -- A method's own numbers per logged step, beside the loss: per-reward means for grpo
    -- ({"rewards/gsm_answer/mean": 0.25, ...}), reward margins and accuracies for dpo.
    ALTER TABLE run_steps ADD COLUMN metrics JSON;
    """,
}
