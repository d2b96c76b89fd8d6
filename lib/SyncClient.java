import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

/**
 * The production site's sync API (shared/spec/production-sync-api.md), over java.net.http.
 *
 * <p>The site runs behind a proxy on a small host, so 429, 5xx, connection resets and timeouts
 * are retried with exponential backoff and jitter, a bounded number of times. 400/401/403/404
 * are never retried: they become messages that say what to fix. The token is sent only in
 * the Authorization header and never appears in any message. TLS is always verified (the JDK's
 * default trust store); there is deliberately no switch to turn that off.
 */
public final class SyncClient {
    /** Knobs of the client; tests shorten them to keep fault tests quick. */
    public record Settings(Duration connectTimeout, Duration requestTimeout, Duration stallTimeout,
                           int maxAttempts, Duration backoffBase, Duration backoffCap) {
        public static Settings defaults() {
            return new Settings(Duration.ofSeconds(15), Duration.ofSeconds(120), Duration.ofSeconds(60),
                    5, Duration.ofMillis(500), Duration.ofSeconds(20));
        }
    }

    /** One file of the staging listing. {@code path} is relative to staging/, as the site gave it. */
    public record StagedFile(String filename, String path, long sizeBytes, String uploadedAt) {}

    /** An HTTP answer that is final (not worth retrying). */
    public static final class HttpFailure extends KitException {
        public final int status;

        HttpFailure(int status, String message, String fix) {
            super(message, fix);
            this.status = status;
        }
    }

    private static final String NOT_CONFIGURED = "Sync API not configured";

    private final String baseUrl;
    private final String token;
    private final Settings settings;
    private final HttpClient http;
    private final ScheduledExecutorService watchdog;

    public SyncClient(String baseUrl, String token, Settings settings) {
        this.baseUrl = baseUrl.replaceAll("/+$", "");
        this.token = token;
        this.settings = settings;
        this.http = HttpClient.newBuilder()
                .connectTimeout(settings.connectTimeout())
                .followRedirects(HttpClient.Redirect.NORMAL)
                .build();
        this.watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "sync-stall-watchdog");
            t.setDaemon(true);
            return t;
        });
    }

    /** A client for the site configured in {@code config}; one message lists whatever is missing. */
    public static SyncClient fromConfig(KitConfig config) {
        config.require(KitConfig.SITE_VARIABLES, "Talking to the site");
        String url = config.get(KitConfig.SITE_URL);
        if (!url.startsWith("https://") && !url.startsWith("http://")) {
            throw new KitException(KitConfig.SITE_URL + " must start with https:// (it is '" + url + "')",
                    "fix it in .env, e.g. " + KitConfig.SITE_URL + "=https://your-site.example");
        }
        return new SyncClient(url, config.get(KitConfig.SYNC_TOKEN), Settings.defaults());
    }

    public String baseUrl() {
        return baseUrl;
    }

    // ---- the endpoints ---------------------------------------------------------------------

    /** GET /api/sync/status (public): counts by state and photos. */
    public JsonNode status() {
        return json(send("GET", "/api/sync/status", null, "the status API"), "the site's status");
    }

    /** GET /api/sync/identities: production's whole identities.json. */
    public ObjectNode fetchIdentities() {
        JsonNode doc = json(send("GET", "/api/sync/identities", null, "the identities API"), "production's identities.json");
        ArchiveFiles.checkIdentities(doc, "production's identities.json");
        return (ObjectNode) doc;
    }

    /** GET /api/sync/photo-index: production's whole photo_index.json. */
    public ObjectNode fetchPhotoIndex() {
        JsonNode doc = json(send("GET", "/api/sync/photo-index", null, "the photo-index API"), "production's photo_index.json");
        ArchiveFiles.checkPhotoIndex(doc, "production's photo_index.json");
        return (ObjectNode) doc;
    }

    /** GET /api/sync/staged: every staged file. A malformed answer is refused as a whole. */
    public List<StagedFile> listStaged() {
        String what = "the site's list of staged uploads";
        JsonNode doc = json(send("GET", "/api/sync/staged", null, "the staged-uploads API"), what);
        JsonNode files = doc.get("files");
        if (files == null || !files.isArray()) {
            throw new KitException(what + " has no \"files\" list", "the site may be an old version; deploy the latest site");
        }
        List<StagedFile> out = new ArrayList<>();
        for (JsonNode f : files) {
            JsonNode path = f.get("path"), size = f.get("size_bytes");
            if (path == null || !path.isTextual() || size == null || !size.canConvertToLong() || size.asLong() < 0) {
                throw new KitException(what + " holds an entry without a valid path and size: " + abbreviate(JsonFiles.compact(f)),
                        "nothing was downloaded; check the site's staging folder");
            }
            String name = f.path("filename").asText(path.asText().substring(path.asText().lastIndexOf('/') + 1));
            out.add(new StagedFile(name, path.asText(), size.asLong(), f.path("uploaded_at").asText("")));
        }
        return out;
    }

    /** Downloads a small staged file (e.g. _metadata.json) into memory. */
    public byte[] downloadBytes(String stagedPath) {
        return send("GET", downloadPath(stagedPath), null, "staged file " + stagedPath);
    }

    /**
     * Downloads one staged file to {@code target}: the bytes go to a temporary name next to it and
     * are renamed into place only when their count equals {@code expectedSize}. A reset or stall
     * mid-download is retried from the start; no partial file is ever left under the real name.
     */
    public void download(String stagedPath, Path target, long expectedSize, LongConsumer progress) {
        String what = "staged file " + stagedPath;
        URI uri = uri(downloadPath(stagedPath));
        retrying(what, attempt -> {
            HttpRequest req = request(uri).GET().build();
            HttpResponse<InputStream> resp = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
            try (InputStream body = resp.body()) {
                if (resp.statusCode() != 200) {
                    byte[] err = body.readNBytes(2000);
                    throw failure(resp.statusCode(), new String(err, StandardCharsets.UTF_8), what, "GET");
                }
                Path tmp = AtomicFiles.tempFor(target);
                OutputStream out = openLocal(target, tmp);
                long written = 0;
                AtomicLong lastProgress = new AtomicLong(System.nanoTime());
                // java.net.http has no read timeout for a body: a watchdog closes a stream that stalls.
                ScheduledFuture<?> dog = watchdog.scheduleAtFixedRate(() -> {
                    if (System.nanoTime() - lastProgress.get() > settings.stallTimeout().toNanos()) {
                        try {
                            body.close();
                        } catch (IOException ignored) {
                        }
                    }
                }, 1, 1, TimeUnit.SECONDS);
                long reported = 0;
                try (out) {
                    byte[] buf = new byte[64 * 1024];
                    int n;
                    while ((n = body.read(buf)) >= 0) {
                        writeLocal(out, buf, n, target, tmp);
                        written += n;
                        reported += n;
                        if (progress != null) progress.accept(n);
                        lastProgress.set(System.nanoTime());
                        if (written > expectedSize) break;
                    }
                    out.flush();
                } catch (IOException e) {
                    Files.deleteIfExists(tmp);
                    if (progress != null) progress.accept(-reported);
                    if (System.nanoTime() - lastProgress.get() > settings.stallTimeout().toNanos()) {
                        throw new HttpTimeoutException("no data for " + settings.stallTimeout().toSeconds() + " s");
                    }
                    throw e;
                } finally {
                    dog.cancel(false);
                }
                if (written != expectedSize) {
                    Files.deleteIfExists(tmp);
                    if (progress != null) progress.accept(-reported);
                    // A short body is what a dropped connection looks like through some proxies: retry it.
                    throw new IOException("received " + written + " bytes, the listing says " + expectedSize);
                }
                try {
                    AtomicFiles.fsync(tmp);
                    AtomicFiles.moveIntoPlace(tmp, target);
                } catch (IOException e) {
                    throw localFailure(target, e);
                } finally {
                    Files.deleteIfExists(tmp);
                }
                return null;
            }
        }, progress);
    }

    // A failure of this computer's disk is not the network's: it is reported at once, never retried.

    private static OutputStream openLocal(Path target, Path tmp) {
        try {
            Files.createDirectories(target.toAbsolutePath().getParent());
            return Files.newOutputStream(tmp, StandardOpenOption.CREATE_NEW);
        } catch (IOException e) {
            throw localFailure(target, e);
        }
    }

    private static void writeLocal(OutputStream out, byte[] buf, int n, Path target, Path tmp) {
        try {
            out.write(buf, 0, n);
        } catch (IOException e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
            }
            throw localFailure(target, e);
        }
    }

    private static KitException localFailure(Path target, IOException e) {
        String why = e instanceof java.nio.file.FileSystemException fse && fse.getReason() != null ? fse.getReason() : String.valueOf(e.getMessage());
        return new KitException("cannot write " + target + ": " + why,
                "check free disk space and that nothing else (e.g. a folder) stands at that path; then run again");
    }

    /** POST /api/sync/staged/clear with exactly these paths (job folders or files). Never {"all": true}. */
    public JsonNode clearStaged(List<String> paths) {
        for (String p : paths) {
            // The real site treats "" or "." as the whole staging folder: never let one through.
            if (p == null || p.isBlank() || p.equals(".") || p.contains("..") || p.startsWith("/")) {
                throw new IllegalArgumentException("refusing to ask the site to clear '" + p + "'");
            }
        }
        ObjectNode body = JsonFiles.object();
        ArrayNode files = body.putArray("files");
        paths.forEach(files::add);
        return json(send("POST", "/api/sync/staged/clear", body, "the clear-staging API"), "the answer to clearing staged uploads");
    }

    /** POST /api/sync/staged/mark-processed for exactly these jobs. */
    public JsonNode markProcessed(List<String> jobIds) {
        ObjectNode body = JsonFiles.object();
        ArrayNode ids = body.putArray("job_ids");
        jobIds.forEach(ids::add);
        return json(send("POST", "/api/sync/staged/mark-processed", body, "the mark-processed API"), "the answer to marking jobs processed");
    }

    /** POST /api/sync/push with the whole documents (either may be null). */
    public JsonNode push(ObjectNode identities, ObjectNode photoIndex) {
        ObjectNode body = JsonFiles.object();
        if (identities != null) body.set("identities", identities);
        if (photoIndex != null) body.set("photo_index", photoIndex);
        return json(send("POST", "/api/sync/push", body, "the push API"), "the push API's answer");
    }

    // ---- plumbing --------------------------------------------------------------------------

    /** Each path segment percent-encoded, so '#', '%', '?', quotes and unicode reach the site intact. */
    static String downloadPath(String stagedPath) {
        StringBuilder sb = new StringBuilder("/api/sync/staged/download");
        for (String seg : stagedPath.split("/", -1)) {
            sb.append('/').append(URLEncoder.encode(seg, StandardCharsets.UTF_8).replace("+", "%20"));
        }
        return sb.toString();
    }

    private URI uri(String path) {
        return URI.create(baseUrl + path);
    }

    private HttpRequest.Builder request(URI uri) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(settings.requestTimeout())
                .header("User-Agent", "rhodesli-kit");
        if (token != null) b.header("Authorization", "Bearer " + token);
        return b;
    }

    private byte[] send(String method, String path, JsonNode body, String what) {
        URI uri = uri(path);
        return retrying(what, attempt -> {
            HttpRequest.Builder b = request(uri);
            if (body != null) {
                b.header("Content-Type", "application/json")
                        .method(method, HttpRequest.BodyPublishers.ofString(JsonFiles.compact(body), StandardCharsets.UTF_8));
            } else {
                b.method(method, HttpRequest.BodyPublishers.noBody());
            }
            HttpResponse<byte[]> resp = http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
            if (resp.statusCode() / 100 != 2) {
                throw failure(resp.statusCode(), new String(resp.body(), StandardCharsets.UTF_8), what, method);
            }
            return resp.body();
        }, null);
    }

    private JsonNode json(byte[] body, String what) {
        try {
            return JsonFiles.parse(body, what);
        } catch (KitException e) {
            throw new KitException(e.getMessage(), "the site answered something that is not JSON; try again later, and check the site's logs if it persists", e);
        }
    }

    private interface Attempt<T> {
        T run(int attempt) throws IOException, InterruptedException;
    }

    /** Thrown inside an attempt for an answer worth retrying (429, 5xx). */
    private static final class Transient extends IOException {
        Transient(String m) {
            super(m);
        }
    }

    private <T> T retrying(String what, Attempt<T> attempt, LongConsumer progress) {
        IOException last = null;
        for (int i = 1; i <= settings.maxAttempts(); i++) {
            try {
                return attempt.run(i);
            } catch (HttpFailure final_) {
                throw final_;
            } catch (IOException e) {
                last = e;
                if (i < settings.maxAttempts()) sleep(backoff(i));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new KitException(what + ": interrupted", null, e);
            }
        }
        String reason = last instanceof HttpTimeoutException ? "timed out (" + last.getMessage() + ")"
                : last instanceof java.net.ConnectException ? "could not connect to " + baseUrl
                : String.valueOf(last.getMessage());
        throw new KitException(what + " failed after " + settings.maxAttempts() + " tries: " + reason,
                "check your connection and that the site is up (" + baseUrl + "/api/sync/status), then run again; nothing was changed by the failed call", last);
    }

    private Duration backoff(int attempt) {
        long cap = Math.min(settings.backoffCap().toMillis(), settings.backoffBase().toMillis() << Math.min(attempt - 1, 20));
        // "full jitter": a random wait up to the exponential cap, so parallel clients do not retry in step
        return Duration.ofMillis(cap / 2 + ThreadLocalRandom.current().nextLong(cap / 2 + 1));
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Turns a non-2xx answer into a final message, or a Transient to retry. */
    private IOException failure(int status, String body, String what, String method) throws HttpFailure {
        String text = abbreviate(body.strip());
        switch (status) {
            case 401, 403 -> throw new HttpFailure(status, "Unauthorized: the site refused the sync token (" + status + ") for " + what,
                    "check " + KitConfig.SYNC_TOKEN + " in .env: it must equal the token configured on the site");
            case 404 -> {
                if (what.startsWith("staged file")) {
                    throw new HttpFailure(status, what + " is not on the site any more (404)", "list the staged files again; it may have been cleared meanwhile");
                }
                throw new HttpFailure(status, what + " answered 404 (" + text + ")",
                        "deploy the latest site first: this endpoint is missing on " + baseUrl);
            }
            case 400 -> {
                if (what.startsWith("staged file")) {
                    throw new HttpFailure(status, "the site refuses to serve " + what + " (400: " + text + ")",
                            "the file's name is not accepted by the site (e.g. it holds '..'); rename or remove it on the site");
                }
                throw new HttpFailure(status, what + ": the site refused the request (400: " + text + ")",
                        "this is a bug in the kit or an incompatible site version; report it with this message");
            }
            default -> {
                if (status == 503 && body.contains(NOT_CONFIGURED)) {
                    throw new HttpFailure(status, "the site's sync API is not configured (503: " + text + ")",
                            "set " + KitConfig.SYNC_TOKEN + " in the site's own environment and redeploy it");
                }
                if (status == 429 || status >= 500) return new Transient(method + " " + what + ": HTTP " + status + (text.isEmpty() ? "" : " (" + text + ")"));
                throw new HttpFailure(status, what + ": unexpected answer HTTP " + status + " (" + text + ")", null);
            }
        }
    }

    private static String abbreviate(String s) {
        return s.length() > 200 ? s.substring(0, 200) + "..." : s;
    }
}
