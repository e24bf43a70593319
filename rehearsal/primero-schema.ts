/**
 * A Primero v2-shaped schema, written for tier4's tests and rehearsals from the public facts about
 * Primero's tables (shared/primero-facts.md). It is not Primero's schema: it has the same table names,
 * extensions and the columns backups and drills look at, with jsonb record data as Primero keeps it.
 */
export const PRIMERO_SCHEMA_SQL = `
CREATE EXTENSION IF NOT EXISTS ltree;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE TABLE schema_migrations (version varchar PRIMARY KEY);
CREATE TABLE ar_internal_metadata (key varchar PRIMARY KEY, value varchar, created_at timestamp(6) NOT NULL, updated_at timestamp(6) NOT NULL);

CREATE TABLE system_settings (
  id bigserial PRIMARY KEY, primero_version varchar, default_locale varchar DEFAULT 'en', locales varchar[] DEFAULT '{en}',
  base_language varchar DEFAULT 'en', reporting_location_config jsonb, age_ranges jsonb, system_options jsonb,
  created_at timestamp(6) NOT NULL DEFAULT now(), updated_at timestamp(6) NOT NULL DEFAULT now());

CREATE TABLE primero_programs (id bigserial PRIMARY KEY, unique_id varchar UNIQUE, name_i18n jsonb, description_i18n jsonb, core_resource boolean DEFAULT true);
CREATE TABLE primero_modules (id bigserial PRIMARY KEY, unique_id varchar UNIQUE, primero_program_id bigint REFERENCES primero_programs,
  name_i18n jsonb, description_i18n jsonb, associated_record_types varchar[], module_options jsonb, core_resource boolean DEFAULT true);

CREATE TABLE agencies (id bigserial PRIMARY KEY, unique_id varchar UNIQUE, agency_code varchar, name_i18n jsonb, description_i18n jsonb,
  services varchar[], disabled boolean DEFAULT false, created_at timestamp(6) DEFAULT now(), updated_at timestamp(6) DEFAULT now());
CREATE TABLE roles (id bigserial PRIMARY KEY, unique_id varchar UNIQUE, name varchar, description varchar, permissions jsonb,
  group_permission varchar DEFAULT 'self', referral boolean DEFAULT false, transfer boolean DEFAULT false, is_manager boolean DEFAULT false,
  reporting_location_level integer, disabled boolean DEFAULT false);
CREATE TABLE user_groups (id bigserial PRIMARY KEY, unique_id varchar UNIQUE, name varchar, description varchar, disabled boolean DEFAULT false, core_resource boolean DEFAULT false);
CREATE TABLE users (id bigserial PRIMARY KEY, user_name varchar UNIQUE, full_name varchar, email varchar, encrypted_password varchar,
  agency_id bigint REFERENCES agencies, role_id bigint REFERENCES roles, locale varchar, disabled boolean DEFAULT false,
  location varchar, services varchar[], phone varchar, created_at timestamp(6) DEFAULT now(), updated_at timestamp(6) DEFAULT now());
CREATE TABLE user_groups_users (user_id bigint REFERENCES users, user_group_id bigint REFERENCES user_groups);

CREATE TABLE locations (id bigserial PRIMARY KEY, location_code varchar UNIQUE, admin_level integer, type varchar, placename_i18n jsonb,
  hierarchy_path ltree, disabled boolean DEFAULT false);
CREATE INDEX index_locations_on_hierarchy_path ON locations USING gist (hierarchy_path);

CREATE TABLE form_sections (id bigserial PRIMARY KEY, unique_id varchar UNIQUE, name_i18n jsonb, help_text_i18n jsonb, description_i18n jsonb,
  parent_form varchar, visible boolean DEFAULT true, "order" integer, order_form_group integer, is_nested boolean DEFAULT false,
  editable boolean DEFAULT true, core_form boolean DEFAULT false, form_group_id varchar);
CREATE TABLE fields (id bigserial PRIMARY KEY, name varchar, type varchar, form_section_id bigint REFERENCES form_sections, "order" integer,
  visible boolean DEFAULT true, display_name_i18n jsonb, help_text_i18n jsonb, option_strings_source varchar, option_strings_text_i18n jsonb,
  required boolean DEFAULT false, mobile_visible boolean DEFAULT true);
CREATE TABLE lookups (id bigserial PRIMARY KEY, unique_id varchar UNIQUE, name_i18n jsonb, lookup_values_i18n jsonb, locked boolean DEFAULT false);
CREATE TABLE reports (id bigserial PRIMARY KEY, unique_id varchar UNIQUE, name_i18n jsonb, description_i18n jsonb, module_id varchar,
  record_type varchar, aggregate_by varchar[], disaggregate_by varchar[], filters jsonb, editable boolean DEFAULT true);
CREATE TABLE primero_configurations (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name varchar, description varchar,
  version varchar UNIQUE, primero_version varchar, data jsonb DEFAULT '{}', created_on timestamp(6), created_by varchar,
  applied_on timestamp(6), applied_by varchar);

CREATE TABLE cases (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), data jsonb DEFAULT '{}', phonetic_data jsonb,
  srch_name varchar, srch_status varchar, srch_owned_by varchar, created_at timestamp(6) DEFAULT now(), updated_at timestamp(6) DEFAULT now());
CREATE INDEX index_cases_on_data ON cases USING gin (data jsonb_path_ops);
CREATE INDEX index_cases_on_srch_name_trgm ON cases USING gin (srch_name gin_trgm_ops);
CREATE TABLE incidents (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), data jsonb DEFAULT '{}', incident_case_id uuid REFERENCES cases);
CREATE TABLE tracing_requests (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), data jsonb DEFAULT '{}');
CREATE TABLE traces (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), data jsonb DEFAULT '{}', tracing_request_id uuid REFERENCES tracing_requests, matched_case_id uuid);
CREATE TABLE families (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), data jsonb DEFAULT '{}');
CREATE TABLE registry_records (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), data jsonb DEFAULT '{}');
CREATE TABLE violations (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), data jsonb DEFAULT '{}', incident_id uuid REFERENCES incidents);

CREATE TABLE audit_logs (id bigserial PRIMARY KEY, record_type varchar, record_id varchar, action varchar, user_id bigint,
  resource_url varchar, "timestamp" timestamp(6), metadata jsonb);
CREATE TABLE alerts (id bigserial PRIMARY KEY, type varchar, alert_for varchar, date date, form_sidebar_id varchar, record_id uuid,
  record_type varchar, user_id bigint, agency_id bigint);
CREATE TABLE flags (id bigserial PRIMARY KEY, record_id uuid, record_type varchar, date date, message text, flagged_by varchar, removed boolean DEFAULT false);
CREATE TABLE transitions (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), type varchar, status varchar, record_id uuid, record_type varchar,
  transitioned_to varchar, transitioned_by varchar, created_at timestamp(6) DEFAULT now());
CREATE TABLE attachments (id bigserial PRIMARY KEY, record_type varchar, record_id uuid, field_name varchar, attachment_type varchar,
  description varchar, date date, is_current boolean DEFAULT false, comments varchar);

CREATE TABLE active_storage_blobs (id bigserial PRIMARY KEY, key varchar NOT NULL, filename varchar NOT NULL, content_type varchar,
  metadata text, service_name varchar NOT NULL, byte_size bigint NOT NULL, checksum varchar, created_at timestamp(6) NOT NULL);
CREATE UNIQUE INDEX index_active_storage_blobs_on_key ON active_storage_blobs (key);
CREATE TABLE active_storage_attachments (id bigserial PRIMARY KEY, name varchar NOT NULL, record_type varchar NOT NULL,
  record_id bigint NOT NULL, blob_id bigint NOT NULL REFERENCES active_storage_blobs, created_at timestamp(6) NOT NULL);
CREATE TABLE active_storage_variant_records (id bigserial PRIMARY KEY, blob_id bigint NOT NULL REFERENCES active_storage_blobs, variation_digest varchar NOT NULL);

CREATE TABLE delayed_jobs (id bigserial PRIMARY KEY, priority integer DEFAULT 0 NOT NULL, attempts integer DEFAULT 0 NOT NULL, handler text NOT NULL,
  last_error text, run_at timestamp, locked_at timestamp, failed_at timestamp, locked_by varchar, queue varchar,
  created_at timestamp(6), updated_at timestamp(6));
CREATE TABLE sessions (id bigserial PRIMARY KEY, session_id varchar NOT NULL UNIQUE, data text, created_at timestamp(6), updated_at timestamp(6));
CREATE TABLE webhooks (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), events varchar[], url varchar, auth_type varchar,
  auth_secret_encrypted varchar, role_unique_id varchar, metadata jsonb);
CREATE TABLE searchable_identifiers (id bigserial PRIMARY KEY, record_type varchar, record_id uuid, field_name varchar, value varchar);
`;
