///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//SOURCES ../lib/KitException.java ../lib/AtomicFiles.java ../lib/JsonFiles.java ../lib/KitConfig.java
//SOURCES ../lib/Console.java ../lib/ProgressBar.java ../lib/Args.java ../lib/StepMain.java

/*
 * A local stand-in for the production site's sync API (spec/production-sync-api.md), serving a
 * folder laid out like production's data folder: DIR/identities.json, DIR/photo_index.json,
 * DIR/annotations.json, DIR/pending_uploads.json and DIR/staging/<job>/... It is the peer of every
 * test and of the sandbox run, so it answers exactly as production does: same status codes, same
 * text and JSON bodies, same <name>.bak.<unix-ts> copies before a push overwrites a file.
 * Where production's own code has a foot-gun (an empty path in a clear wipes all of staging, a
 * push half-written when its second document is bad), this stand-in refuses instead; the kit must
 * never rely on either.
 *
 * It listens on 127.0.0.1 only. The token is RHODESLI_SYNC_TOKEN (environment or .env); without
 * one every authenticated endpoint answers 503, as production does.
 *
 * Options:  --root DIR   the site's data folder (required)
 *           --port N     the port (default 8765; 0 = any free port)
 *           --json       print {"url", "port", "root", "token_configured"} on stdout; the request log goes to stderr
 * Example:  ./jbang sandbox/local_site.java --root sandbox/work/site --port 8765
 */
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.stream.Stream;

public class local_site {
    static final String USAGE = "./jbang sandbox/local_site.java --root DIR [--port N] [--json]";
    static final String ABOUT = """
            A local stand-in for the production site's sync API, serving DIR (identities.json,
            photo_index.json, annotations.json, pending_uploads.json, staging/<job>/...) on 127.0.0.1
            until stopped with Ctrl+C. The token is RHODESLI_SYNC_TOKEN (environment or .env); without
            one every authenticated endpoint answers 503, as production does.

            Example: ./jbang sandbox/local_site.java --root sandbox/work/site --port 8765
                     then point the kit at it: RHODESLI_SITE_URL=http://127.0.0.1:8765""";

    static final int DEFAULT_PORT = 8765;
    static final String API = "/api/sync/";
    static final String DOWNLOAD_PREFIX = "/api/sync/staged/download/";
    static final String NOT_CONFIGURED = "Sync API not configured (RHODESLI_SYNC_TOKEN not set)";
    /** How many .bak.<ts> copies production keeps of each pushed file (it prunes older ones). */
    static final int BACKUPS_KEPT = 3;
    /** What a push accepts, in the order production writes them, with the key that holds the count. */
    static final List<String[]> PUSHABLE = List.of(
            new String[] {"identities", "identities.json", "identities"},
            new String[] {"photo_index", "photo_index.json", "photos"},
            new String[] {"annotations", "annotations.json", "annotations"},
            new String[] {"photo_locations", "photo_locations.json", "photos"},
            new String[] {"date_labels", "date_labels.json", "photos"});

    /** Python's datetime.isoformat() of an aware UTC time: microseconds and +00:00. */
    static final DateTimeFormatter PY_ISO = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSSxxx").withZone(ZoneOffset.UTC);
    /** uploaded_at in the staged listing, as the spec shows it: milliseconds and +00:00. */
    static final DateTimeFormatter MILLIS_ISO = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSxxx").withZone(ZoneOffset.UTC);

    public static void main(String[] argv) {
        StepMain.exit(() -> {
            Args args = new Args(USAGE, ABOUT)
                    .option("--root", "DIR", "the site's data folder to serve (required)")
                    .option("--port", "N", "the port to listen on (default " + DEFAULT_PORT + "; 0 = any free port)")
                    .flag("--json", "print one JSON object {url, port, root, token_configured} on stdout; the log goes to stderr")
                    .parse(argv);
            args.required("--root");
            int port = args.getInt("--port", DEFAULT_PORT);
            if (port < 0 || port > 65535) throw new Args.Usage("--port needs a port number from 0 to 65535, not " + port);
            Console console = Console.standard(args.has("--json"));
            KitConfig config = KitConfig.load();
            for (String w : config.warnings()) console.warn(w);
            Path root = Path.of(args.get("--root")).toAbsolutePath().normalize();
            if (!Files.isDirectory(root)) {
                throw new KitException(root + " is not a folder",
                        "create it (it may start empty) or point --root at a folder laid out like the site's data folder");
            }
            String token = config.get(KitConfig.SYNC_TOKEN);
            Running site;
            try {
                DateTimeFormatter clock = DateTimeFormatter.ofPattern("HH:mm:ss").withZone(java.time.ZoneId.systemDefault());
                site = start(root, port, token, line -> console.info(clock.format(Instant.now()) + "  " + line));
            } catch (BindException e) {
                throw new KitException("port " + port + " on 127.0.0.1 is already in use",
                        "stop what runs there, or choose another port with --port N (0 = any free port)", e);
            }
            Runtime.getRuntime().addShutdownHook(new Thread(site::close));

            ObjectNode summary = JsonFiles.object();
            summary.put("url", site.url());
            summary.put("port", site.port());
            summary.put("root", root.toString());
            summary.put("token_configured", token != null);
            console.emitJson(summary);
            console.info("Local site serving " + root);
            console.info("Listening on " + site.url() + "   (point the kit at it: RHODESLI_SITE_URL=" + site.url() + ")");
            if (token == null) {
                console.warn(KitConfig.SYNC_TOKEN + " is not set: every endpoint but /api/sync/status answers 503, as production does");
            } else {
                console.info(config.describe(KitConfig.SYNC_TOKEN) + " (clients must send it as 'Authorization: Bearer ...')");
            }
            for (String name : List.of("identities.json", "photo_index.json")) {
                if (!Files.exists(root.resolve(name))) console.info("(no " + name + " yet: its endpoint answers 404 until a push writes it)");
            }
            console.info("Press Ctrl+C to stop.");
            new CountDownLatch(1).await(); // serve until the process is killed; the hook stops the server
            return StepMain.OK;
        });
    }

    // ------------------------------------------------------------------ in-process API

    /** A running site; {@link #close()} stops it. */
    public static final class Running implements AutoCloseable {
        private final HttpServer server;
        private final ExecutorService pool;
        private final Site site;
        private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();

        private Running(HttpServer server, ExecutorService pool, Site site) {
            this.server = server;
            this.pool = pool;
            this.site = site;
        }

        /** "http://127.0.0.1:<port>", no trailing slash, as RHODESLI_SITE_URL wants it. */
        public String url() {
            return "http://127.0.0.1:" + port();
        }

        public int port() {
            return server.getAddress().getPort();
        }

        public Path root() {
            return site.root;
        }

        @Override
        public void close() {
            if (closed.getAndSet(true)) return; // a test's close and a shutdown hook may both call it
            server.stop(0);
            pool.shutdownNow();
        }
    }

    /** Starts a site serving {@code root} on 127.0.0.1 ({@code port} 0 = a free port); null token = 503 mode. */
    public static Running start(Path root, int port, String tokenOrNull) throws IOException {
        return start(root, port, tokenOrNull, null);
    }

    /** As {@link #start(Path, int, String)}, with each request logged as one line to {@code log} (may be null). */
    public static Running start(Path root, int port, String tokenOrNull, Consumer<String> log) throws IOException {
        Site site = new Site(root.toAbsolutePath().normalize(), tokenOrNull == null || tokenOrNull.isEmpty() ? null : tokenOrNull, log);
        // The JDK server writes headers and body separately; without TCP_NODELAY each small answer
        // waits ~40 ms for a delayed ACK. Read once per JVM, so it must be set before the first server.
        if (System.getProperty("sun.net.httpserver.nodelay") == null) System.setProperty("sun.net.httpserver.nodelay", "true");
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 64);
        AtomicInteger n = new AtomicInteger();
        // A small host, like production's: a few workers, so a slow download does not block the listing.
        ExecutorService pool = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "local-site-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(pool);
        server.createContext("/", site::handle);
        server.start();
        return new Running(server, pool, site);
    }

    /**
     * Lays out one upload job as the site's upload form does: the files in staging/<jobId>/ (spaces
     * and '/' in names replaced by '_', as the site does), its _metadata.json, and a "staged" entry
     * in pending_uploads.json. Returns the job's folder.
     */
    public static Path stageUpload(Path root, String jobId, String source, String collection, Map<String, byte[]> files) throws IOException {
        if (jobId == null || jobId.isEmpty() || jobId.contains("/") || jobId.contains("\\") || jobId.contains("..")) {
            throw new IllegalArgumentException("a job id is one folder name (8 hex characters on the site), not '" + jobId + "'");
        }
        Path job = root.resolve("staging").resolve(jobId);
        List<String> names = new ArrayList<>();
        for (Map.Entry<String, byte[]> f : files.entrySet()) {
            String name = f.getKey().replace(' ', '_').replace('/', '_');
            if (name.startsWith("_") || name.equals(".") || name.equals("..") || names.contains(name)) {
                throw new IllegalArgumentException("upload file name '" + f.getKey() + "' is a metadata name or collides with another one");
            }
            names.add(name);
            AtomicFiles.write(job.resolve(name), f.getValue());
        }
        String now = PY_ISO.format(Instant.now());
        ObjectNode meta = JsonFiles.object();
        meta.put("job_id", jobId);
        meta.put("source", source);
        meta.put("collection", collection);
        meta.put("source_url", "");
        ArrayNode list = meta.putArray("files");
        names.forEach(list::add);
        meta.put("uploaded_at", now);
        meta.put("processing_enabled", false);
        meta.put("uploader_email", "volunteer@example.org");
        JsonFiles.write(job.resolve("_metadata.json"), meta);

        Path pendingFile = root.resolve("pending_uploads.json");
        ObjectNode pending = Files.exists(pendingFile) ? JsonFiles.readObject(pendingFile) : JsonFiles.object();
        ObjectNode entry = JsonFiles.object();
        entry.put("job_id", jobId);
        entry.put("status", "staged");
        entry.put("source", source);
        entry.put("collection", collection);
        entry.put("source_url", "");
        entry.set("files", list.deepCopy());
        entry.put("file_count", names.size());
        entry.put("submitted_at", now);
        entry.put("uploader_email", "volunteer@example.org");
        JsonNode uploads = pending.get("uploads");
        if (uploads instanceof ArrayNode a) {
            a.add(entry);
        } else {
            ObjectNode byJob = uploads instanceof ObjectNode o ? o : pending.putObject("uploads");
            byJob.set(jobId, entry);
        }
        JsonFiles.write(pendingFile, pending);
        return job;
    }

    // ------------------------------------------------------------------ the server

    /** One answer: a status, a content type and either bytes or a file to stream. */
    private record Reply(int status, String contentType, byte[] body, Path file, Map<String, String> headers) {
        static Reply text(int status, String text) {
            return new Reply(status, "text/plain; charset=utf-8", text.getBytes(StandardCharsets.UTF_8), null, Map.of());
        }

        static Reply json(JsonNode node) {
            // Compact, as Starlette's JSONResponse writes it.
            return new Reply(200, "application/json", JsonFiles.compact(node).getBytes(StandardCharsets.UTF_8), null, Map.of());
        }
    }

    /** A request that cannot be served as asked; becomes a text reply. */
    private static final class Refusal extends Exception {
        final int status;

        Refusal(int status, String text) {
            super(text, null, false, false);
            this.status = status;
        }
    }

    private static final class Site {
        final Path root;
        final Path staging;
        final String token;
        final Consumer<String> log;
        /** Push, clear, mark-processed and the staged listing never interleave: each sees the folder whole. */
        final ReentrantLock writes = new ReentrantLock();

        Site(Path root, String token, Consumer<String> log) {
            this.root = root;
            this.staging = root.resolve("staging");
            this.token = token;
            this.log = log;
        }

        void handle(HttpExchange ex) {
            long t0 = System.nanoTime();
            int status = 500;
            try {
                Reply reply;
                try {
                    reply = route(ex);
                } catch (Refusal r) {
                    reply = Reply.text(r.status, r.getMessage());
                } catch (Exception e) {
                    log("ERROR serving " + ex.getRequestURI().getRawPath() + ": " + e);
                    reply = Reply.text(500, "Internal Server Error");
                }
                status = reply.status();
                send(ex, reply);
            } catch (IOException e) {
                // The client went away mid-answer (a cancelled download): nothing to do.
                log("client closed the connection early: " + e.getMessage());
            } finally {
                ex.close();
                log(ex.getRequestMethod() + " " + ex.getRequestURI().getRawPath() + " -> " + status
                        + " (" + (System.nanoTime() - t0) / 1_000_000 + " ms)");
            }
        }

        void log(String line) {
            if (log != null) log.accept(line);
        }

        /** Routing first, then the method, then the token (Starlette's order), then the endpoint. */
        Reply route(HttpExchange ex) throws Exception {
            String path = ex.getRequestURI().getRawPath();
            String method = ex.getRequestMethod();
            String allowed = path.startsWith(DOWNLOAD_PREFIX) ? "GET" : switch (path) {
                case "/api/sync/status", "/api/sync/identities", "/api/sync/photo-index",
                        "/api/sync/annotations", "/api/sync/staged" -> "GET";
                case "/api/sync/staged/clear", "/api/sync/staged/mark-processed", "/api/sync/push" -> "POST";
                default -> null;
            };
            if (allowed == null) return Reply.text(404, "Not Found");
            if (!allowed.equals(method)) {
                return new Reply(405, "text/plain; charset=utf-8", "Method Not Allowed".getBytes(StandardCharsets.UTF_8), null, Map.of("Allow", allowed));
            }
            if (path.equals("/api/sync/status")) return status();
            Reply denied = checkToken(ex);
            if (denied != null) return denied;
            if (path.startsWith(DOWNLOAD_PREFIX)) return download(path.substring(DOWNLOAD_PREFIX.length()));
            return switch (path) {
                case "/api/sync/identities" -> wholeFile("identities.json");
                case "/api/sync/photo-index" -> wholeFile("photo_index.json");
                case "/api/sync/annotations" -> annotations();
                case "/api/sync/staged" -> listStaged();
                case "/api/sync/staged/clear" -> clear(body(ex));
                case "/api/sync/staged/mark-processed" -> markProcessed(body(ex));
                case "/api/sync/push" -> push(body(ex));
                default -> throw new IllegalStateException("no handler for " + path);
            };
        }

        Reply checkToken(HttpExchange ex) {
            if (token == null) return Reply.text(503, NOT_CONFIGURED);
            String header = ex.getRequestHeaders().getFirst("Authorization");
            String given = header != null && header.startsWith("Bearer ") ? header.substring(7) : "";
            boolean ok = MessageDigest.isEqual(given.getBytes(StandardCharsets.UTF_8), token.getBytes(StandardCharsets.UTF_8));
            return ok ? null : Reply.text(401, "Unauthorized");
        }

        // -------------------------------------------------------------- GET endpoints

        Reply status() throws IOException {
            int identities = 0, confirmed = 0, proposed = 0, inbox = 0, photos = 0;
            Path ids = root.resolve("identities.json");
            if (Files.exists(ids)) {
                JsonNode all = JsonFiles.read(ids).path("identities");
                for (JsonNode identity : all) {
                    // production's registry leaves merged-away identities out of every count
                    if (truthy(identity.get("merged_into"))) continue;
                    identities++;
                    switch (identity.path("state").asText()) {
                        case "CONFIRMED" -> confirmed++;
                        case "PROPOSED" -> proposed++;
                        case "INBOX" -> inbox++;
                        default -> { }
                    }
                }
            }
            Path index = root.resolve("photo_index.json");
            if (Files.exists(index)) photos = JsonFiles.read(index).path("photos").size();
            ObjectNode out = JsonFiles.object();
            out.put("identities", identities);
            out.put("confirmed", confirmed);
            out.put("proposed", proposed);
            out.put("inbox", inbox);
            out.put("photos", photos);
            out.put("timestamp", PY_ISO.format(Instant.now()));
            return Reply.json(out);
        }

        Reply wholeFile(String name) throws IOException {
            Path file = root.resolve(name);
            if (!Files.isRegularFile(file)) return Reply.text(404, "File not found");
            return Reply.json(JsonFiles.read(file));
        }

        Reply annotations() throws IOException {
            Path file = root.resolve("annotations.json");
            if (Files.isRegularFile(file)) return Reply.json(JsonFiles.read(file));
            // production answers an empty document when no one has written a caption yet
            ObjectNode empty = JsonFiles.object();
            empty.put("schema_version", 1);
            empty.putObject("annotations");
            return Reply.json(empty);
        }

        Reply listStaged() throws IOException {
            // under the write lock, so a clear never pulls a folder from under the walk
            writes.lock();
            try {
                return listStagedLocked();
            } finally {
                writes.unlock();
            }
        }

        Reply listStagedLocked() throws IOException {
            ObjectNode out = JsonFiles.object();
            ArrayNode files = out.putArray("files");
            long total = 0;
            if (Files.isDirectory(staging)) {
                List<Path> all;
                try (Stream<Path> s = Files.walk(staging)) {
                    all = s.filter(Files::isRegularFile).sorted(Comparator.comparing(p -> relative(p))).toList();
                }
                for (Path p : all) {
                    BasicFileAttributes a;
                    try {
                        a = Files.readAttributes(p, BasicFileAttributes.class);
                    } catch (NoSuchFileException gone) {
                        continue; // cleared while we listed
                    }
                    ObjectNode f = files.addObject();
                    f.put("filename", p.getFileName().toString());
                    f.put("path", relative(p));
                    f.put("size_bytes", a.size());
                    f.put("uploaded_at", MILLIS_ISO.format(a.lastModifiedTime().toInstant()));
                    total += a.size();
                }
            }
            out.put("total_files", files.size());
            out.put("total_size_bytes", total);
            return Reply.json(out);
        }

        /** The path relative to staging/, with '/' whatever the platform. */
        String relative(Path p) {
            List<String> parts = new ArrayList<>();
            for (Path part : staging.relativize(p)) parts.add(part.toString());
            return String.join("/", parts);
        }

        Reply download(String rawRest) throws IOException, Refusal {
            if (rawRest.isEmpty()) return Reply.text(404, "File not found");
            if (rawRest.startsWith("/")) throw new Refusal(400, "Invalid path");
            List<String> segments = new ArrayList<>();
            for (String raw : rawRest.split("/", -1)) {
                String seg = percentDecode(raw);
                // A '/' or NUL inside one segment (%2F, %00) is never a real file name: the site
                // replaces '/' in uploaded names. Production would take %2F as a separator; refusing is safer.
                if (seg == null || seg.indexOf('/') >= 0 || seg.indexOf('\0') >= 0) throw new Refusal(400, "Invalid path");
                segments.add(seg);
            }
            Path target = insideStaging(String.join("/", segments));
            if (target == null) throw new Refusal(400, "Invalid path");
            if (!Files.isRegularFile(target)) return Reply.text(404, "File not found");
            String name = target.getFileName().toString();
            String encoded = percentEncode(name);
            String disposition = encoded.equals(name) ? "attachment; filename=\"" + name + "\"" : "attachment; filename*=utf-8''" + encoded;
            return new Reply(200, "application/octet-stream", null, target, Map.of("Content-Disposition", disposition));
        }

        /**
         * The file or folder a client's path names under staging/, or null when the path is not
         * allowed: production refuses any path holding ".." or starting with '/', then anything
         * that resolves (symbolic links followed) outside staging/. staging/ itself is refused too.
         */
        Path insideStaging(String rel) {
            if (rel.isEmpty() || rel.contains("..") || rel.startsWith("/")) return null;
            Path target;
            try {
                target = staging.resolve(rel).normalize();
            } catch (InvalidPathException e) {
                return null;
            }
            if (!target.startsWith(staging) || target.equals(staging)) return null;
            try {
                if (Files.exists(target) && !target.toRealPath().startsWith(staging.toRealPath())) return null;
            } catch (IOException e) {
                return null;
            }
            return target;
        }

        // -------------------------------------------------------------- POST endpoints

        /** The request body as a JSON object; anything else is a 400, as a bad body should be. */
        ObjectNode body(HttpExchange ex) throws IOException, Refusal {
            byte[] bytes = ex.getRequestBody().readAllBytes();
            JsonNode n;
            try {
                n = JsonFiles.MAPPER.readTree(bytes);
            } catch (IOException e) {
                throw new Refusal(400, "Invalid JSON body");
            }
            if (n == null || n.isMissingNode()) throw new Refusal(400, "Invalid JSON body"); // an empty body
            if (n == null || !n.isObject()) throw new Refusal(400, "Request body must be a JSON object");
            return (ObjectNode) n;
        }

        Reply clear(ObjectNode body) throws IOException, Refusal {
            writes.lock();
            try {
                if (truthy(body.get("all"))) {
                    ObjectNode out = JsonFiles.object();
                    out.put("cleared", "all");
                    ArrayNode removed = out.putArray("removed");
                    if (Files.isDirectory(staging)) {
                        List<Path> top;
                        try (Stream<Path> s = Files.list(staging)) {
                            top = s.sorted().toList();
                        }
                        for (Path p : top) {
                            deleteTree(p);
                            removed.add(p.getFileName().toString());
                        }
                    }
                    out.put("count", removed.size());
                    return Reply.json(out);
                }
                JsonNode list = body.get("files");
                if (!truthy(list)) throw new Refusal(400, "No files specified");
                if (!list.isArray()) throw new Refusal(400, "'files' must be a list of paths relative to staging/");
                ObjectNode out = JsonFiles.object();
                ArrayNode removed = out.putArray("removed");
                ArrayNode errors = out.putArray("errors");
                for (JsonNode item : list) {
                    String rel = item.isTextual() ? item.asText() : item.toString();
                    Path target = item.isTextual() ? insideStaging(rel) : null;
                    if (target == null) {
                        addError(errors, rel, "invalid path");
                    } else if (!Files.exists(target, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                        addError(errors, rel, "not found");
                    } else {
                        try {
                            deleteTree(target);
                            removed.add(rel);
                            removeEmptyParents(target.getParent());
                        } catch (IOException e) {
                            addError(errors, rel, "could not remove: " + e.getMessage());
                        }
                    }
                }
                out.put("count", removed.size());
                return Reply.json(out);
            } finally {
                writes.unlock();
            }
        }

        static void addError(ArrayNode errors, String path, String error) {
            ObjectNode e = errors.addObject();
            e.put("path", path);
            e.put("error", error);
        }

        /** Removes a file, or a folder and everything in it; symbolic links are removed, never followed. */
        static void deleteTree(Path p) throws IOException {
            if (!Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                Files.deleteIfExists(p);
                return;
            }
            Files.walkFileTree(p, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    Files.deleteIfExists(file);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                    if (exc != null) throw exc;
                    Files.deleteIfExists(dir);
                    return FileVisitResult.CONTINUE;
                }
            });
        }

        /** Empty folders left behind by a clear go too, up to (never including) staging/ itself. */
        void removeEmptyParents(Path dir) throws IOException {
            while (dir != null && dir.startsWith(staging) && !dir.equals(staging) && Files.isDirectory(dir)) {
                try (Stream<Path> s = Files.list(dir)) {
                    if (s.findAny().isPresent()) return;
                }
                Files.delete(dir);
                dir = dir.getParent();
            }
        }

        Reply markProcessed(ObjectNode body) throws IOException, Refusal {
            boolean all = truthy(body.get("all"));
            Set<String> wanted = new LinkedHashSet<>();
            if (!all) {
                JsonNode ids = body.get("job_ids");
                if (!truthy(ids)) throw new Refusal(400, "Must provide 'job_ids' or 'all'");
                if (!ids.isArray()) throw new Refusal(400, "'job_ids' must be a list of job ids");
                for (JsonNode id : ids) wanted.add(id.asText());
            }
            writes.lock();
            try {
                Path file = root.resolve("pending_uploads.json");
                ObjectNode pending = Files.exists(file) ? JsonFiles.readObject(file) : JsonFiles.object();
                JsonNode uploads = pending.path("uploads");
                List<String> marked = new ArrayList<>();
                String now = PY_ISO.format(Instant.now());
                if (uploads instanceof ObjectNode byJob) {
                    if (all) {
                        byJob.fields().forEachRemaining(e -> mark(e.getKey(), e.getValue(), Set.of("staged"), now, marked));
                    } else {
                        for (String id : wanted) mark(id, byJob.get(id), Set.of("staged", "approved"), now, marked);
                    }
                } else if (uploads instanceof ArrayNode list) {
                    // an older layout keeps a list of entries that each name their job
                    for (JsonNode u : list) {
                        String id = u.path("job_id").asText();
                        if (all) mark(id, u, Set.of("staged"), now, marked);
                        else if (wanted.contains(id)) mark(id, u, Set.of("staged", "approved"), now, marked);
                    }
                }
                if (!marked.isEmpty()) JsonFiles.write(file, pending);
                ObjectNode out = JsonFiles.object();
                ArrayNode list = out.putArray("marked_processed");
                marked.forEach(list::add);
                out.put("count", marked.size());
                return Reply.json(out);
            } finally {
                writes.unlock();
            }
        }

        static void mark(String jobId, JsonNode upload, Set<String> from, String now, List<String> marked) {
            if (!(upload instanceof ObjectNode u) || !from.contains(u.path("status").asText())) return;
            u.put("status", "processed");
            u.put("processed_at", now);
            marked.add(jobId);
        }

        Reply push(ObjectNode body) throws IOException, Refusal {
            // Production ignores empty values ({} or null) and wants at least one document; every
            // document is checked before anything is written, so a bad second one leaves the first alone.
            List<String[]> given = new ArrayList<>();
            for (String[] kind : PUSHABLE) {
                JsonNode value = body.get(kind[0]);
                if (value == null || value.isNull()) continue;
                if (!value.isObject()) throw new Refusal(400, kind[0] + " must be a JSON object");
                if (value.size() > 0) given.add(kind);
            }
            if (given.isEmpty()) {
                List<String> names = PUSHABLE.stream().map(k -> "'" + k[0] + "'").sorted().toList();
                throw new Refusal(400, "Must provide one of [" + String.join(", ", names) + "] in request body");
            }
            writes.lock();
            try {
                long ts = Instant.now().getEpochSecond();
                ObjectNode out = JsonFiles.object();
                out.put("status", "ok");
                ObjectNode results = out.putObject("results");
                for (String[] kind : given) {
                    JsonNode doc = body.get(kind[0]);
                    Path file = root.resolve(kind[1]);
                    String backupName = kind[1] + ".bak." + ts;
                    if (Files.exists(file)) AtomicFiles.copy(file, root.resolve(backupName), true);
                    JsonFiles.write(file, doc);
                    JsonNode counted = doc.get(kind[2]);
                    // identities.json and date_labels may also come as a bare map
                    if (counted == null && (kind[0].equals("identities") || kind[0].equals("date_labels"))) counted = doc;
                    ObjectNode r = results.putObject(kind[0]);
                    r.put("status", "written");
                    r.put("count", counted == null ? 0 : counted.size());
                    r.put("backup", backupName);
                }
                pruneBackups();
                out.put("timestamp", ts);
                return Reply.json(out);
            } finally {
                writes.unlock();
            }
        }

        /** Production keeps only the newest few <name>.bak.<ts> copies of each file. */
        void pruneBackups() throws IOException {
            List<Path> baks;
            try (Stream<Path> s = Files.list(root)) {
                baks = s.filter(p -> p.getFileName().toString().contains(".bak.") && Files.isRegularFile(p)).toList();
            }
            Map<String, List<Path>> byBase = new java.util.TreeMap<>();
            for (Path p : baks) {
                String name = p.getFileName().toString();
                byBase.computeIfAbsent(name.substring(0, name.indexOf(".bak.")), k -> new ArrayList<>()).add(p);
            }
            for (List<Path> group : byBase.values()) {
                group.sort(Comparator.comparingLong(Site::backupTime).reversed());
                for (Path old : group.subList(Math.min(BACKUPS_KEPT, group.size()), group.size())) Files.deleteIfExists(old);
            }
        }

        static long backupTime(Path p) {
            String name = p.getFileName().toString();
            try {
                return Long.parseLong(name.substring(name.lastIndexOf(".bak.") + 5));
            } catch (NumberFormatException e) {
                return 0;
            }
        }

        // -------------------------------------------------------------- sending

        static void send(HttpExchange ex, Reply reply) throws IOException {
            ex.getResponseHeaders().set("Content-Type", reply.contentType());
            reply.headers().forEach((k, v) -> ex.getResponseHeaders().set(k, v));
            if (reply.file() != null) {
                long size = Files.size(reply.file());
                // -1 tells the JDK server "no body"; 0 would mean "chunked, length unknown"
                ex.sendResponseHeaders(reply.status(), size == 0 ? -1 : size);
                if (size > 0) {
                    try (OutputStream out = ex.getResponseBody()) {
                        Files.copy(reply.file(), out); // streamed: a 50 MB photo never sits in memory
                    }
                }
                return;
            }
            byte[] body = reply.body();
            ex.sendResponseHeaders(reply.status(), body.length == 0 ? -1 : body.length);
            if (body.length > 0) {
                try (OutputStream out = ex.getResponseBody()) {
                    out.write(body);
                }
            }
        }
    }

    // ------------------------------------------------------------------ small helpers

    /** Python's truthiness of a JSON value: null, false, 0, "" and empty lists/objects are false. */
    static boolean truthy(JsonNode n) {
        if (n == null || n.isNull() || n.isMissingNode()) return false;
        if (n.isBoolean()) return n.booleanValue();
        if (n.isNumber()) return n.decimalValue().signum() != 0;
        if (n.isTextual()) return !n.textValue().isEmpty();
        return n.size() > 0;
    }

    /** One percent-encoded path segment decoded as UTF-8 ('+' stays '+'), or null if malformed. */
    static String percentDecode(String s) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        for (int i = 0; i < s.length(); ) {
            int c = s.codePointAt(i);
            if (c == '%') {
                if (i + 2 >= s.length()) return null;
                int hi = Character.digit(s.charAt(i + 1), 16), lo = Character.digit(s.charAt(i + 2), 16);
                if (hi < 0 || lo < 0) return null;
                bytes.write(hi * 16 + lo);
                i += 3;
            } else {
                byte[] b = new String(Character.toChars(c)).getBytes(StandardCharsets.UTF_8);
                bytes.write(b, 0, b.length);
                i += Character.charCount(c);
            }
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes.toByteArray())).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    /** Python's urllib.parse.quote(s): everything but letters, digits and "_.-~/" percent-encoded as UTF-8. */
    static String percentEncode(String s) {
        StringBuilder sb = new StringBuilder();
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            char c = (char) (b & 0xff);
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || "_.-~/".indexOf(c) >= 0) {
                sb.append(c);
            } else {
                sb.append('%').append(String.format("%02X", b & 0xff));
            }
        }
        return sb.toString();
    }
}
