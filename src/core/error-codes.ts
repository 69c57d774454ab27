/**
 * The catalog of error codes: every `code` a BrrError may carry, with its meaning, its exit code
 * and the area it belongs to. `errors.ts` promises that scripts may branch on codes; this file is
 * that promise written down, so a code cannot be thrown without being listed (tsc refuses it) and
 * `docs/errors.md` is generated from it (`npm run docs:errors`; a test fails when they differ).
 * Imports nothing: the CLI, the library and the docs script all read it.
 */

/** The areas codes are grouped by in docs/errors.md, with what each covers. */
export const ERROR_CATEGORIES = {
  usage: 'Errors about a flag, an argument or a name given on the command line.',
  manifest: 'Errors about brr.yaml or the Procfile.',
  build: 'Errors checking out and building a commit.',
  store: 'Errors of the local image store and of tar archives.',
  registry: 'Errors talking to OCI registries (push, pull, import).',
  release: 'Errors about releases, config, secrets, signing and trust.',
  ledger: 'Errors of the release ledger and deploy leases.',
  run: 'Errors of the local supervisor, its ports and switches.',
  kubernetes: 'Errors of the Kubernetes target.',
  serve: "Errors of the operator console's HTTP API (`brr serve`) and its tokens.",
  internal: 'Not a BrrError: an unexpected failure, which is a bug in brr.',
} as const;

export type ErrorCategory = keyof typeof ERROR_CATEGORIES;

/** What the catalog says about one code. */
export interface ErrorCodeInfo {
  readonly category: ErrorCategory;
  /** The exit code brr ends with (1 failure, 2 usage or invalid input) unless the thrower overrides it. */
  readonly exitCode: 1 | 2;
  /** One line: what happened. The message and hint of each error say the rest. */
  readonly meaning: string;
}

/** Every error code, sorted. Add a code here first; a code is never renamed or reused. */
export const ERROR_CODES = {
  address_unavailable: { category: 'run', exitCode: 1, meaning: "A port's bind address is not on this host." },
  app_invalid: {
    category: 'usage',
    exitCode: 2,
    meaning: 'An app name is not valid (lowercase letters, digits and dashes).',
  },
  app_missing: {
    category: 'usage',
    exitCode: 2,
    meaning: 'No app was named and no brr.yaml with an `app:` key is in the working directory.',
  },
  app_unknown: {
    category: 'usage',
    exitCode: 1,
    meaning: 'The app named with --app has no release or event in this ledger.',
  },
  bad_request: {
    category: 'run',
    exitCode: 2,
    meaning: 'The supervisor received a control request with a missing or malformed argument.',
  },
  build_ambiguous: { category: 'build', exitCode: 2, meaning: 'A build digest prefix matches more than one build.' },
  build_collected: {
    category: 'build',
    exitCode: 1,
    meaning: 'The build of a release was removed by `brr gc`; the release cannot run until it is rebuilt.',
  },
  build_commit_invalid: { category: 'build', exitCode: 2, meaning: 'A value is not a full git commit id.' },
  build_digest_invalid: { category: 'build', exitCode: 2, meaning: 'A value is not a build digest (sha256:<64 hex>).' },
  build_dockerfile_missing: {
    category: 'build',
    exitCode: 1,
    meaning: '`build.dockerfile` does not name a file in the commit.',
  },
  build_failed: {
    category: 'build',
    exitCode: 1,
    meaning:
      'A build command or container engine failed; the message has its exit code and last lines, the hint the log path.',
  },
  build_not_found: { category: 'build', exitCode: 1, meaning: 'No build with that digest is in the store.' },
  build_output_invalid: { category: 'build', exitCode: 1, meaning: '`build.output` resolves outside the checkout.' },
  build_output_missing: {
    category: 'build',
    exitCode: 1,
    meaning: '`build.output` is not a directory after the build ran.',
  },
  build_ref_invalid: {
    category: 'build',
    exitCode: 2,
    meaning: 'A build reference is neither a digest nor a long enough hex prefix.',
  },
  check_failed: {
    category: 'kubernetes',
    exitCode: 1,
    meaning: '`brr check`: at least one essential CNTi check failed; each failed row says what to change.',
  },
  config_assignment_invalid: { category: 'release', exitCode: 2, meaning: 'A config assignment is not KEY=VALUE.' },
  config_key_conflict: {
    category: 'release',
    exitCode: 2,
    meaning: 'A config key is both set and unset in one change.',
  },
  config_key_invalid: {
    category: 'release',
    exitCode: 2,
    meaning: 'A config key is not a valid environment variable name.',
  },
  config_key_missing: { category: 'release', exitCode: 2, meaning: 'A config key to unset is not set.' },
  config_key_repeated: { category: 'release', exitCode: 2, meaning: 'A config key is given more than once.' },
  config_key_reserved: {
    category: 'release',
    exitCode: 2,
    meaning: 'A config key is reserved for brr (e.g. the socket hand-over variables).',
  },
  container_engine_missing: {
    category: 'build',
    exitCode: 1,
    meaning: '`build.dockerfile` needs podman, buildah or docker, and none can be run.',
  },
  control_socket_unavailable: {
    category: 'run',
    exitCode: 1,
    meaning: "The supervisor's control socket cannot be created or reached in the home's run directory.",
  },
  csrf_failed: {
    category: 'serve',
    exitCode: 1,
    meaning: "A cookie-authenticated write lacked the session's `X-CSRF-Token` header, or it did not match.",
  },
  digest_invalid: { category: 'store', exitCode: 2, meaning: 'A value is not a sha256 digest.' },
  disk_full: {
    category: 'store',
    exitCode: 1,
    meaning:
      'A disk is full: the home while building or packaging (the message names the path and the space needed), or the PostgreSQL ledger server.',
  },
  duration_invalid: {
    category: 'manifest',
    exitCode: 2,
    meaning: 'A duration (in brr.yaml, a flag or the environment) is malformed or longer than a timer can hold (596h).',
  },
  event_type_invalid: { category: 'ledger', exitCode: 2, meaning: 'A ledger entry has an unknown event type.' },
  forbidden: {
    category: 'serve',
    exitCode: 1,
    meaning: "The token's role does not allow this request (viewer < deployer < admin).",
  },
  formation_invalid: {
    category: 'release',
    exitCode: 2,
    meaning: 'A process scale is not a whole number of at least 0.',
  },
  gc_keep_invalid: { category: 'usage', exitCode: 2, meaning: '`brr gc --keep` is not a whole number of at least 1.' },
  git_failed: {
    category: 'build',
    exitCode: 1,
    meaning: 'A git command failed; the message has its exit code and stderr.',
  },
  git_missing: { category: 'build', exitCode: 1, meaning: 'The git program cannot be run.' },
  handoff_changed: {
    category: 'run',
    exitCode: 2,
    meaning: 'A port changes between handoff: proxy and handoff: fds; deploy that change with switch: stop-first.',
  },
  home_path_too_long: {
    category: 'run',
    exitCode: 1,
    meaning: "The home's path is too long for a Unix socket and this system has no /proc to reach it another way.",
  },
  image_import_failed: {
    category: 'build',
    exitCode: 1,
    meaning: 'The image a container engine built could not be imported into the store.',
  },
  image_platform_not_found: {
    category: 'registry',
    exitCode: 1,
    meaning: 'An image index has no image for the wanted platform.',
  },
  image_unsupported: {
    category: 'build',
    exitCode: 1,
    meaning:
      'An image or manifest has a form brr does not support (media type, nested index, mismatched layers, no app layer).',
  },
  init_invalid: {
    category: 'manifest',
    exitCode: 2,
    meaning: '`build.image.init` is not a statically linked tini or dumb-init executable.',
  },
  internal: {
    category: 'internal',
    exitCode: 1,
    meaning: 'An unexpected failure (a bug in brr); JSON output carries this code for errors that are not BrrErrors.',
  },
  invalid_address: { category: 'run', exitCode: 2, meaning: "A port's bind address is not an IP address." },
  invalid_port: { category: 'run', exitCode: 2, meaning: 'A port number is not a valid port.' },
  key_exists: {
    category: 'release',
    exitCode: 1,
    meaning: '`brr keys generate` would overwrite an existing key file.',
  },
  key_not_ed25519: { category: 'release', exitCode: 2, meaning: 'A signing or public key is not Ed25519.' },
  key_not_trusted: { category: 'release', exitCode: 2, meaning: 'The key to remove is not a trusted key of the app.' },
  kube_api_error: {
    category: 'kubernetes',
    exitCode: 1,
    meaning: 'The Kubernetes API server answered with an unexpected error.',
  },
  kube_conflict: {
    category: 'kubernetes',
    exitCode: 1,
    meaning: 'Another writer changed a Kubernetes object meanwhile; run the command again.',
  },
  kube_context_not_found: { category: 'kubernetes', exitCode: 2, meaning: 'The kubeconfig has no such context.' },
  kube_invalid: { category: 'kubernetes', exitCode: 2, meaning: 'The API server refused an object as invalid.' },
  kube_not_found: {
    category: 'kubernetes',
    exitCode: 1,
    meaning: 'A Kubernetes object or the namespace does not exist.',
  },
  kube_unauthorized: {
    category: 'kubernetes',
    exitCode: 1,
    meaning: 'The kubeconfig user lacks access (credentials or RBAC).',
  },
  kube_unreachable: { category: 'kubernetes', exitCode: 1, meaning: 'The Kubernetes API server cannot be reached.' },
  kubeconfig_invalid: { category: 'kubernetes', exitCode: 2, meaning: 'The kubeconfig cannot be loaded.' },
  kubernetes_image_not_pushed: {
    category: 'kubernetes',
    exitCode: 2,
    meaning:
      "The release's build was not pushed where the app's registry says, so no render can name its image; push it (`brr run` pushes by itself).",
  },
  kubernetes_image_unpinned: {
    category: 'kubernetes',
    exitCode: 2,
    meaning: "A rendered image is not pinned to the release's build digest.",
  },
  kubernetes_name_conflict: {
    category: 'kubernetes',
    exitCode: 2,
    meaning: 'Two process types become the same Kubernetes object name.',
  },
  kubernetes_name_invalid: {
    category: 'kubernetes',
    exitCode: 2,
    meaning: 'An app or process type does not make a valid Kubernetes object name.',
  },
  kubernetes_no_processes: {
    category: 'kubernetes',
    exitCode: 2,
    meaning: 'The build declares no process types to deploy.',
  },
  lease_fenced: {
    category: 'ledger',
    exitCode: 1,
    meaning: 'A write carried a deploy lease token that was superseded; it was refused.',
  },
  lease_held: {
    category: 'ledger',
    exitCode: 1,
    meaning: "Another operator holds the app's deploy lease (wait with --wait, or break it with `brr lock --force`).",
  },
  lease_holder_invalid: { category: 'ledger', exitCode: 2, meaning: 'A lease holder lacks an owner, host or pid.' },
  lease_lost: {
    category: 'ledger',
    exitCode: 1,
    meaning: 'The deploy lease expired during the operation because it could not be renewed; the operation stopped.',
  },
  lease_time_invalid: { category: 'ledger', exitCode: 2, meaning: 'The lease clock gave an invalid time.' },
  lease_ttl_invalid: { category: 'ledger', exitCode: 2, meaning: 'BRR_LEASE_TTL is not a duration of at least 300ms.' },
  ledger_append_only: {
    category: 'ledger',
    exitCode: 1,
    meaning: 'Something tried to change or remove a ledger entry; the ledger is append-only.',
  },
  ledger_auth_failed: {
    category: 'ledger',
    exitCode: 1,
    meaning: 'The PostgreSQL server refused the ledger credentials.',
  },
  ledger_behind_witness: {
    category: 'ledger',
    exitCode: 1,
    meaning:
      'The ledger has lost history this home witnessed (emptied, truncated or a deleted tail); writes are refused until it is restored or a new history is started on purpose (BRR_NEW_HISTORY).',
  },
  ledger_busy: { category: 'ledger', exitCode: 1, meaning: 'The ledger stayed locked by another writer.' },
  ledger_closed: { category: 'ledger', exitCode: 1, meaning: 'The ledger was used after it was closed.' },
  ledger_conflict: {
    category: 'ledger',
    exitCode: 1,
    meaning: 'Another writer appended at the same position; run the command again.',
  },
  ledger_corrupt: {
    category: 'ledger',
    exitCode: 1,
    meaning: 'The SQLite ledger file is damaged or not a brr ledger.',
  },
  ledger_database_missing: {
    category: 'ledger',
    exitCode: 1,
    meaning: 'The PostgreSQL ledger database does not exist.',
  },
  ledger_draft_invalid: {
    category: 'ledger',
    exitCode: 1,
    meaning: 'A release draft handed to the ledger is not a release.',
  },
  ledger_error: {
    category: 'ledger',
    exitCode: 1,
    meaning: 'The PostgreSQL ledger failed with an unexpected SQLSTATE.',
  },
  ledger_export_io: {
    category: 'ledger',
    exitCode: 1,
    meaning: 'A ledger export or import file cannot be read or written (exit 2 when it does not exist).',
  },
  ledger_import_app_missing: {
    category: 'ledger',
    exitCode: 2,
    meaning: 'The export holds no entries of the app to import.',
  },
  ledger_import_invalid: {
    category: 'ledger',
    exitCode: 2,
    meaning: 'A line of a ledger export is malformed; nothing was imported.',
  },
  ledger_import_not_empty: {
    category: 'ledger',
    exitCode: 1,
    meaning: 'The app already has history in the target ledger; import only fills an empty app.',
  },
  ledger_reentrant: {
    category: 'ledger',
    exitCode: 1,
    meaning: 'A ledger write was started from inside another write of the same ledger (a bug).',
  },
  ledger_tampered: {
    category: 'ledger',
    exitCode: 1,
    meaning: "The ledger's or an export's history failed verification (hash chain or signatures).",
  },
  ledger_text_invalid: {
    category: 'ledger',
    exitCode: 2,
    meaning: 'Text with a NUL character cannot be stored in the PostgreSQL ledger.',
  },
  ledger_too_new: {
    category: 'ledger',
    exitCode: 1,
    meaning: 'The ledger has a newer schema version than this brr knows; upgrade brr.',
  },
  ledger_unreachable: { category: 'ledger', exitCode: 1, meaning: 'The PostgreSQL ledger server cannot be reached.' },
  ledger_unwritable: {
    category: 'ledger',
    exitCode: 1,
    meaning:
      'The ledger cannot be written: a missing PostgreSQL privilege, or the SQLite file cannot be created or written.',
  },
  ledger_url_invalid: {
    category: 'ledger',
    exitCode: 2,
    meaning: 'The ledger URL (--ledger or BRR_LEDGER_URL) is not a postgres:// URL.',
  },
  ledger_wal_unavailable: {
    category: 'ledger',
    exitCode: 1,
    meaning: 'SQLite could not switch the ledger file to WAL mode (e.g. on a network file system).',
  },
  limit_invalid: { category: 'usage', exitCode: 2, meaning: 'A listing limit is not a whole number of at least 1.' },
  listen_insecure: {
    category: 'usage',
    exitCode: 2,
    meaning: '`brr serve` was asked to listen beyond loopback without `--tls-cert`/`--tls-key` or `--insecure-http`.',
  },
  listen_invalid: { category: 'usage', exitCode: 2, meaning: '`brr serve --listen` is not HOST:PORT.' },
  manifest_invalid: {
    category: 'manifest',
    exitCode: 2,
    meaning: 'The brr.yaml manifest does not match the schema; the message names the path of the bad field.',
  },
  manifest_no_processes: {
    category: 'manifest',
    exitCode: 2,
    meaning: 'Neither brr.yaml `processes` nor a Procfile declares a process.',
  },
  method_not_allowed: { category: 'serve', exitCode: 1, meaning: 'The API path exists but not with that HTTP method.' },
  no_build: { category: 'release', exitCode: 1, meaning: 'The app has no build yet.' },
  no_release: { category: 'release', exitCode: 1, meaning: 'The app has no release yet.' },
  not_a_repo: { category: 'build', exitCode: 2, meaning: 'The repository path is not a git repository.' },
  nothing_to_promote: {
    category: 'release',
    exitCode: 2,
    meaning: 'The source app has no current release to promote.',
  },
  nothing_to_roll_back: { category: 'release', exitCode: 2, meaning: 'The app has no release to roll back to.' },
  path_invalid: { category: 'usage', exitCode: 2, meaning: '`--path` is not a directory inside the repository.' },
  path_not_found: {
    category: 'build',
    exitCode: 2,
    meaning: 'The `--path` subdirectory does not exist in the commit.',
  },
  platform_invalid: { category: 'registry', exitCode: 2, meaning: 'A platform is not os/arch[/variant].' },
  port_denied: {
    category: 'run',
    exitCode: 1,
    meaning: 'The supervisor is not allowed to bind the address (e.g. a privileged port).',
  },
  port_in_use: { category: 'run', exitCode: 1, meaning: 'The port is held by another app or process.' },
  process_type_unknown: {
    category: 'usage',
    exitCode: 2,
    meaning: 'A `--process` type has no processes and no output in the app.',
  },
  procfile_invalid: { category: 'manifest', exitCode: 2, meaning: 'A Procfile line is not `type: command`.' },
  promote_same_app: { category: 'usage', exitCode: 2, meaning: '`brr promote` was asked to promote an app to itself.' },
  public_key_file_missing: {
    category: 'release',
    exitCode: 2,
    meaning: 'A public key file named on the command line does not exist.',
  },
  public_key_invalid: {
    category: 'release',
    exitCode: 2,
    meaning: 'A value is not an Ed25519 public key in a supported encoding.',
  },
  rate_limited: {
    category: 'serve',
    exitCode: 1,
    meaning: 'Too many failed logins from this client address; retry after the time the answer gives.',
  },
  ref_invalid: { category: 'build', exitCode: 2, meaning: 'A git ref has a form git does not accept.' },
  ref_not_found: { category: 'build', exitCode: 1, meaning: 'A git ref does not name a commit in the repository.' },
  registry_auth_failed: {
    category: 'registry',
    exitCode: 1,
    meaning: "The registry's token service failed, returned no token, or named an invalid realm.",
  },
  registry_denied: {
    category: 'registry',
    exitCode: 1,
    meaning: 'The registry denied access to the repository or object.',
  },
  registry_digest_mismatch: {
    category: 'registry',
    exitCode: 1,
    meaning: 'A blob or manifest arrived with content that does not match its digest; it was discarded.',
  },
  registry_error: {
    category: 'registry',
    exitCode: 1,
    meaning: 'The registry answered with an unexpected status, too many redirects or an oversized body.',
  },
  registry_insecure: {
    category: 'registry',
    exitCode: 2,
    meaning: 'Credentials would be sent over plain HTTP; brr refuses.',
  },
  registry_not_found: {
    category: 'registry',
    exitCode: 1,
    meaning: 'The registry has no such repository, tag, manifest or blob.',
  },
  registry_rate_limited: { category: 'registry', exitCode: 1, meaning: 'The registry is rate-limiting requests.' },
  registry_reference_invalid: {
    category: 'registry',
    exitCode: 2,
    meaning: 'An image reference has a form brr does not accept.',
  },
  registry_tls: { category: 'registry', exitCode: 1, meaning: "The registry's TLS certificate is not trusted." },
  registry_unauthorized: {
    category: 'registry',
    exitCode: 1,
    meaning: 'The registry refused the credentials, or needs some and none are configured.',
  },
  registry_unreachable: {
    category: 'registry',
    exitCode: 1,
    meaning: 'The registry or its token service cannot be reached.',
  },
  release_dir_conflict: {
    category: 'store',
    exitCode: 1,
    meaning: 'A release directory exists but holds another or an incomplete materialization.',
  },
  release_dir_modified: {
    category: 'store',
    exitCode: 1,
    meaning:
      'A materialized release directory was changed after it was unpacked and could not be set aside to unpack it again.',
  },
  release_id_invalid: { category: 'release', exitCode: 2, meaning: 'A value is not a release id (v<number>).' },
  release_not_found: { category: 'release', exitCode: 1, meaning: 'The app has no release with that id.' },
  release_not_materialized: { category: 'store', exitCode: 1, meaning: 'A release is not unpacked on this host.' },
  release_phase_failed: {
    category: 'release',
    exitCode: 1,
    meaning:
      'The release-phase command failed; the release was not switched to. Message: exit code, last lines, log path.',
  },
  release_untrusted: {
    category: 'release',
    exitCode: 1,
    meaning: 'A release is not signed by a key the app trusts; it is refused.',
  },
  render_out_missing: {
    category: 'usage',
    exitCode: 2,
    meaning: '`brr render --cnf-testsuite` writes a directory: it needs --out DIR.',
  },
  render_target_missing: {
    category: 'usage',
    exitCode: 2,
    meaning: '`brr render` needs --namespace and --registry for an app without a Kubernetes target.',
  },
  repo_symlink_outside: {
    category: 'build',
    exitCode: 2,
    meaning:
      "The commit has a symlink pointing outside the repository (absolute or escaping); a build holds only the commit's own files.",
  },
  request_body_invalid: {
    category: 'serve',
    exitCode: 2,
    meaning: 'A request body is not valid JSON or a field of it has the wrong form.',
  },
  request_body_too_large: {
    category: 'serve',
    exitCode: 2,
    meaning: 'A request body is larger than the server accepts.',
  },
  rollback_failed: {
    category: 'run',
    exitCode: 1,
    meaning: 'A failed release was rolled back and the rollback failed too.',
  },
  rollback_target_is_current: {
    category: 'release',
    exitCode: 2,
    meaning: 'The rollback target is already the current release.',
  },
  rollout_failed: {
    category: 'kubernetes',
    exitCode: 1,
    meaning: 'A Kubernetes rollout failed; the message says whether the previous release was restored.',
  },
  route_not_found: { category: 'serve', exitCode: 1, meaning: 'No API route has that path.' },
  sctp_unsupported_locally: {
    category: 'run',
    exitCode: 2,
    meaning: 'The local supervisor cannot run SCTP ports (Node has no SCTP sockets).',
  },
  secret_corrupt: { category: 'release', exitCode: 1, meaning: 'A stored secret does not decrypt: it was altered.' },
  secret_key_mismatch: {
    category: 'release',
    exitCode: 1,
    meaning: 'A secret is encrypted with another secrets key than the configured one.',
  },
  secret_key_missing: {
    category: 'release',
    exitCode: 1,
    meaning: 'A secret must be encrypted or decrypted and no secrets key is configured (exit 2 when setting one).',
  },
  secrets_key_invalid: { category: 'release', exitCode: 2, meaning: 'The secrets key is not 32 bytes of base64.' },
  signing_key_invalid: { category: 'release', exitCode: 2, meaning: 'The signing key is not a PEM private key.' },
  signing_key_missing: {
    category: 'release',
    exitCode: 2,
    meaning: 'A signature is required or asked for, and no signing key is configured.',
  },
  signing_key_unreadable: { category: 'release', exitCode: 2, meaning: 'The signing key file cannot be read.' },
  since_invalid: { category: 'usage', exitCode: 2, meaning: '`--since` is neither an ISO date nor a duration.' },
  socket_failed: {
    category: 'run',
    exitCode: 1,
    meaning: 'Binding a port failed for another reason; the message has the errno.',
  },
  status_drift: { category: 'run', exitCode: 1, meaning: '`brr status`: what runs differs from the ledger.' },
  store_corrupt: {
    category: 'store',
    exitCode: 1,
    meaning: 'A blob or the index of the local store is missing or does not match its digest.',
  },
  store_locked: {
    category: 'store',
    exitCode: 1,
    meaning: 'Another brr process holds the store lock (it waited and gave up).',
  },
  submodule_missing: {
    category: 'build',
    exitCode: 1,
    meaning:
      'The commit has a git submodule whose objects are not present; fetch it (git submodule update --init --recursive).',
  },
  supervisor_running: { category: 'run', exitCode: 1, meaning: 'A supervisor is already running for this home.' },
  supervisor_stopping: {
    category: 'run',
    exitCode: 1,
    meaning: 'The supervisor is shutting down and takes no new work.',
  },
  supervisor_unreachable: {
    category: 'run',
    exitCode: 1,
    meaning: 'The supervisor cannot be reached or started (no token, no control socket, no start command).',
  },
  switch_failed: {
    category: 'run',
    exitCode: 1,
    meaning: 'Switching to the new release failed (it did not become healthy); the previous release keeps running.',
  },
  switch_in_progress: { category: 'run', exitCode: 1, meaning: 'A switch of the app is already in progress.' },
  tar_file_changed: {
    category: 'store',
    exitCode: 1,
    meaning: 'A file changed size while it was being packed into a layer.',
  },
  tar_header_too_large: {
    category: 'store',
    exitCode: 1,
    meaning: 'A tar PAX or GNU long-name header claims more than 1 MiB; the archive is refused before it is read.',
  },
  tar_invalid: {
    category: 'store',
    exitCode: 1,
    meaning: 'A tar archive is damaged: bad checksum, bad size, or cut short.',
  },
  tar_unsafe_entry: {
    category: 'store',
    exitCode: 1,
    meaning: 'A tar entry would write or point outside the target (absolute path, `..`, through a symlink).',
  },
  tar_unsupported_entry: {
    category: 'store',
    exitCode: 1,
    meaning: 'A tar entry or packed file is not a file, directory or symlink.',
  },
  target_context_invalid: {
    category: 'usage',
    exitCode: 2,
    meaning: 'A Kubernetes context name contains control characters.',
  },
  target_flags_invalid: {
    category: 'usage',
    exitCode: 2,
    meaning: 'Kubernetes-only flags were given for a target that is not kubernetes.',
  },
  target_flags_missing: {
    category: 'usage',
    exitCode: 2,
    meaning: '`--target kubernetes` lacks a flag it needs (context, namespace or registry).',
  },
  target_invalid: {
    category: 'usage',
    exitCode: 2,
    meaning: 'An unknown deploy target was named (local or kubernetes).',
  },
  target_namespace_invalid: {
    category: 'usage',
    exitCode: 2,
    meaning: 'A namespace is not a valid Kubernetes namespace name.',
  },
  target_registry_invalid: { category: 'usage', exitCode: 2, meaning: 'A target registry is not host[:port][/path].' },
  tls_invalid: {
    category: 'usage',
    exitCode: 2,
    meaning: 'The TLS certificate or key given to `brr serve` cannot be read or used.',
  },
  token_exists: { category: 'serve', exitCode: 1, meaning: 'An API token with that name exists already.' },
  token_name_invalid: {
    category: 'usage',
    exitCode: 2,
    meaning: 'An API token name is not 1-63 lowercase letters, digits, dots, dashes or underscores.',
  },
  token_not_found: { category: 'serve', exitCode: 1, meaning: 'No API token has that name.' },
  token_role_invalid: {
    category: 'usage',
    exitCode: 2,
    meaning: 'An API token role is not viewer, deployer or admin.',
  },
  tokens_file_invalid: {
    category: 'serve',
    exitCode: 1,
    meaning: '`<home>/tokens.json` cannot be read or is not a brr token file.',
  },
  trust_change_unsigned: {
    category: 'release',
    exitCode: 2,
    meaning: "Changing an app's trust policy once it trusts a key needs a signature by a trusted key.",
  },
  trust_change_untrusted_signer: {
    category: 'release',
    exitCode: 2,
    meaning: 'The key signing a trust change is not trusted by the app at that moment.',
  },
  unauthorized: {
    category: 'serve',
    exitCode: 1,
    meaning: 'The request carries no API token or session, or an unknown, revoked or expired one.',
  },
  usage: {
    category: 'usage',
    exitCode: 2,
    meaning: 'A flag has the wrong form (a duration, a positive whole number).',
  },
  witness_damaged: {
    category: 'ledger',
    exitCode: 1,
    meaning: "The home's ledger witness file (ledger-witness.json) cannot be read.",
  },
} as const satisfies Record<string, ErrorCodeInfo>;

/** A code scripts may branch on (`brr ... --json` prints it as `error.code`). */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Whether `code` is in the catalog (e.g. a code that arrived from another process). */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

/** docs/errors.md: the catalog as a table per category. Pure; `scripts/docs-errors.mjs` writes it. */
export function renderErrorCodesMarkdown(): string {
  const entries = Object.entries(ERROR_CODES) as Array<[ErrorCode, ErrorCodeInfo]>;
  const out = [
    '# Error codes',
    '',
    '<!-- Generated from src/core/error-codes.ts by `npm run docs:errors`; do not edit by hand. -->',
    '',
    'Every error brr reports on purpose carries a stable `code` (printed as `error.code` with `--json`)',
    'and ends the process with an exit code: 0 ok, 1 failure, 2 usage or invalid input, 130 interrupted.',
    'Scripts may branch on the code, never on the message. Codes are only ever added, not renamed.',
    '',
    `${entries.length} codes.`,
  ];
  for (const [category, covers] of Object.entries(ERROR_CATEGORIES)) {
    out.push('', `## ${category}`, '', covers, '', '| Code | Exit | Meaning |', '| --- | --- | --- |');
    for (const [code, info] of entries) {
      if (info.category === category)
        out.push(`| \`${code}\` | ${info.exitCode} | ${info.meaning.replace(/\|/g, '\\|')} |`);
    }
  }
  return `${out.join('\n')}\n`;
}
