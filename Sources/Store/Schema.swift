/// The results store's schema, as an ordered list of migrations.
///
/// Migration `i` (0-based) takes the database from `PRAGMA user_version` i to i + 1. Never edit a
/// migration that has shipped: append a new one. A database whose version is higher than
/// `Schema.version` was written by a newer vipbench and is refused untouched.
public enum Schema {
    public static var version: Int { migrations.count }

    static let migrations: [String] = [
        // 1: reference numbers, runs, metrics, performance, benchmarks, artifacts.
        """
        CREATE TABLE reference_results (
            id             INTEGER PRIMARY KEY,
            source         TEXT    NOT NULL,  -- where the number was published
            table_row      INTEGER NOT NULL,  -- row in that table, 1-based
            model          TEXT    NOT NULL,
            modality       TEXT    NOT NULL,  -- rgb | flow
            pretraining    TEXT    NOT NULL,  -- none | TCLR
            resolution     INTEGER NOT NULL,  -- crop side in pixels
            frames         INTEGER NOT NULL,  -- frames per clip
            skip           INTEGER NOT NULL,  -- temporal stride between frames
            spatial_crops  INTEGER NOT NULL,
            temporal_clips INTEGER NOT NULL,
            split          TEXT    NOT NULL,
            metric         TEXT    NOT NULL,  -- top1 | top5 | mean_class_accuracy ...
            unit           TEXT    NOT NULL,  -- percent | fraction
            value          REAL    NOT NULL,
            imported_at    TEXT    NOT NULL,
            UNIQUE (source, table_row, split, metric)
        );
        CREATE TABLE runs (
            id             INTEGER PRIMARY KEY,
            configuration  TEXT    NOT NULL,
            profile        TEXT    NOT NULL,  -- full | a scaled profile name
            seed           INTEGER,
            status         TEXT    NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
            started_at     TEXT    NOT NULL,
            ended_at       TEXT,
            git_commit     TEXT,
            git_dirty      INTEGER,
            host           TEXT,
            pid            INTEGER,
            cpu            TEXT,
            blas           TEXT,
            blas_threads   INTEGER,
            swift_version  TEXT,
            command_line   TEXT    NOT NULL,
            message        TEXT
        );
        CREATE TABLE metrics (
            id             INTEGER PRIMARY KEY,
            run_id         INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            split          TEXT    NOT NULL,
            spatial_crops  INTEGER NOT NULL,
            temporal_clips INTEGER NOT NULL,
            sampling_rule  TEXT    NOT NULL,  -- slowfast-offset | slowfast-uniform | mmaction | tclr
            aggregation    TEXT    NOT NULL DEFAULT '',
            metric         TEXT    NOT NULL,  -- top1 | top5 | mean_class_accuracy ...
            variant        TEXT    NOT NULL DEFAULT '',  -- official | all-class ...
            value          REAL,              -- NULL: undefined (for example no videos in a class)
            UNIQUE (run_id, split, spatial_crops, temporal_clips, sampling_rule, aggregation, metric, variant)
        );
        CREATE TABLE performance (
            id               INTEGER PRIMARY KEY,
            run_id           INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            model            TEXT    NOT NULL,
            mode             TEXT    NOT NULL DEFAULT 'inference',  -- inference | train-step
            input_shape      TEXT    NOT NULL,  -- C x T x H x W
            batch            INTEGER NOT NULL DEFAULT 1,
            gmacs_per_view   REAL,
            parameters       INTEGER,
            clips_per_second REAL,
            latency_s        REAL,
            peak_rss_bytes   INTEGER,
            threads          INTEGER
        );
        CREATE TABLE benchmarks (
            id        INTEGER PRIMARY KEY,
            run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            name      TEXT    NOT NULL,
            threads   INTEGER,
            value     REAL    NOT NULL,
            unit      TEXT    NOT NULL,
            baseline  TEXT,  -- the benchmark, measured in the same run, that `ratio` divides by
            ratio     REAL
        );
        CREATE TABLE artifacts (
            id         INTEGER PRIMARY KEY,
            run_id     INTEGER REFERENCES runs(id) ON DELETE CASCADE,
            path       TEXT NOT NULL,
            kind       TEXT NOT NULL,  -- plot | plot-data | plot-script | checkpoint | scores ...
            sha256     TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX metrics_run ON metrics(run_id);
        CREATE INDEX performance_run ON performance(run_id);
        CREATE INDEX benchmarks_run ON benchmarks(run_id);
        CREATE INDEX artifacts_run ON artifacts(run_id);
        """,
        // 2: training curves, one row per epoch of a stage (pretrain | train) of a run; a
        // performance figure's network width and which size of a configuration it measured.
        """
        ALTER TABLE performance ADD COLUMN width REAL;   -- channel-width multiplier; NULL: 1 (the paper's)
        ALTER TABLE performance ADD COLUMN scale TEXT;   -- paper | a scaled profile's name; NULL: not from a runner
        CREATE TABLE training_epochs (
            id                INTEGER PRIMARY KEY,
            run_id            INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            stage             TEXT    NOT NULL,  -- pretrain | train
            epoch             INTEGER NOT NULL,  -- 0-based
            step              INTEGER NOT NULL,  -- optimiser steps at the epoch's end
            train_loss        REAL,              -- mean of the epoch's step losses
            lr                REAL,              -- the rate at the epoch's end
            clips_per_second  REAL,
            seconds           REAL,
            val_top1          REAL,              -- fraction; NULL when not validated that epoch
            val_top5          REAL,
            val_loss          REAL,
            UNIQUE (run_id, stage, epoch)
        );
        CREATE INDEX training_epochs_run ON training_epochs(run_id);
        """,
    ]
}
