/**
 * The metadata schema on Postgres, one entry per migration; the `migrations` table records which
 * ran. The same tables as the SQLite file, with these differences:
 * - times are bigint milliseconds, flags booleans;
 * - JSON stays text, as written: jsonb would reorder params' keys and refuse \u0000;
 * - ids and names are `collate "C"`, so ordering and prefixes compare bytes as SQLite does,
 *   whatever the database's locale;
 * - version numbers come from `version_counters`, one row per dataset or model, which an upsert
 *   increments under its row lock: two processes never get the same number.
 */
export const METADATA_MIGRATIONS: readonly string[] = [
  `create table runs (
     id text collate "C" primary key,
     pipeline text collate "C" not null,
     status text not null,
     trigger_kind text not null,
     trigger_id text not null,
     params text not null,
     input_params text not null,
     owner text,
     resumed_from text,
     started_at bigint not null,
     ended_at bigint,
     error_code text,
     error_message text
   );
   create index runs_pipeline on runs (pipeline, id);
   create table run_steps (
     run_id text collate "C" not null references runs (id),
     step text not null,
     position integer not null,
     status text not null,
     attempts integer not null default 0,
     started_at bigint,
     ended_at bigint,
     error_code text,
     error_message text,
     output text,
     reused_from text,
     primary key (run_id, step)
   );
   create table attempts (
     run_id text collate "C" not null,
     step text not null,
     attempt integer not null,
     status text not null,
     started_at bigint not null,
     ended_at bigint,
     error_code text,
     error_message text,
     retryable boolean,
     primary key (run_id, step, attempt)
   );
   create table logs (
     seq bigint generated always as identity primary key,
     run_id text collate "C" not null,
     step text,
     attempt integer,
     time bigint not null,
     level integer not null,
     line text not null
   );
   create index logs_run on logs (run_id, seq);
   create table validation_reports (
     seq bigint generated always as identity primary key,
     run_id text collate "C",
     step text,
     dataset text not null,
     version integer,
     kind text not null,
     passed boolean not null,
     body text not null,
     at bigint not null
   );
   create index validation_reports_run on validation_reports (run_id, seq);
   create index validation_reports_dataset on validation_reports (dataset, at);
   create table storages (
     name text collate "C" primary key,
     technology text not null,
     format text not null,
     options text not null,
     added_at bigint not null
   );
   create table version_counters (
     kind text not null,
     name text collate "C" not null,
     last integer not null,
     primary key (kind, name)
   );
   create table dataset_versions (
     dataset text collate "C" not null,
     version integer not null,
     storage text not null,
     status text not null,
     rows bigint,
     run_id text collate "C",
     step text,
     partition text,
     created_at bigint not null,
     finished_at bigint,
     error text,
     primary key (dataset, version)
   );
   create index dataset_versions_run on dataset_versions (run_id);
   create table dataset_live (
     dataset text collate "C" primary key,
     version integer not null,
     changed_at bigint not null
   );
   create table lineage (
     seq bigint generated always as identity primary key,
     run_id text collate "C" not null,
     step text not null,
     dataset text collate "C" not null,
     version integer not null,
     direction text not null,
     at bigint not null
   );
   create index lineage_run on lineage (run_id);
   create index lineage_dataset on lineage (dataset, version);
   create table models (
     name text collate "C" not null,
     version integer not null,
     algorithm text not null,
     params text not null,
     metrics text not null,
     artifact text,
     run_id text,
     step text,
     created_at bigint not null,
     primary key (name, version)
   );
   create table model_aliases (
     name text collate "C" not null,
     alias text collate "C" not null,
     version integer not null,
     changed_at bigint not null,
     primary key (name, alias)
   );
   create table api_keys (
     id text collate "C" primary key,
     name text not null,
     hash text not null unique,
     scopes text not null,
     hint text not null,
     created_at bigint not null,
     revoked_at bigint
   );
   create unique index api_keys_active_name on api_keys (name) where revoked_at is null;`,
  // A run's records are updated in place as it goes (a step starts, ends; the run ends). Room left
  // in each page lets an update stay on its page without a new index entry (a HOT update).
  `alter table runs set (fillfactor = 80);
   alter table run_steps set (fillfactor = 60);
   alter table attempts set (fillfactor = 60);`,
  // When an ended run's hooks are due from whoever sweeps them (null: delivered, or none to deliver).
  `alter table runs add column hooks_due_at bigint;
   create index runs_hooks_due on runs (hooks_due_at) where hooks_due_at is not null;`,
  // Checks no read needs, paid on every run: the step rows' foreign key (a lookup and a row lock
  // on the run for each step row written; runs and their steps are only written by this store,
  // steps with or after their run, and SQLite never enforced it) and the log lines' primary key
  // (reads go through logs_run; seq comes from the identity, unique without an index). They were
  // an eighth of the server's time per run of a worker fleet.
  `alter table run_steps drop constraint if exists run_steps_run_id_fkey;
   alter table logs drop constraint if exists logs_pkey;`,
];
