import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * The review page's local web server (the JDK's own HTTP server, no extra dependency).
 *
 * <p>Safety: it listens on 127.0.0.1 only (never on the machine's other addresses); every URL
 * starts with a random token that only the printed address carries, and anything else gets 403;
 * a request whose Host is not this server (DNS rebinding) gets 403, and so does a POST whose
 * Origin is not this server (another site's page in the same browser); a POST must be JSON,
 * which an HTML form cannot send. Pages forbid framing and any script but their own.
 *
 * <p>Each decision is saved to the decisions file before the answer goes back, so what the
 * page shows as saved is on disk. The server ends when {@link #finish} runs once: from the
 * page's "Done", or from the terminal.
 */
public final class ReviewServer implements AutoCloseable {
    private static final int MAX_BODY = 64 * 1024;

    /** What ends the review: applies the decisions (or not, in a dry run) and returns the page's summary. */
    public interface Finisher {
        ObjectNode finish(String how) throws Exception;
    }

    private final ReviewDecisions decisions;
    private final JsonNode identities;
    private final ReviewFaces faces;
    private final Supplier<ObjectNode> model;
    private final Finisher finisher;
    private final String token;
    private final SecureRandom random = new SecureRandom();
    private final CountDownLatch finished = new CountDownLatch(1);
    private HttpServer server;
    private ExecutorService pool;
    private int port;
    private ObjectNode summary;
    private Exception failure;

    /**
     * @param identities the archive as the reviewer sees it (the versions kept with each decision)
     * @param model      the page's model, made anew for each page load (so a reload shows what is saved)
     */
    public ReviewServer(ReviewDecisions decisions, JsonNode identities, ReviewFaces faces, Supplier<ObjectNode> model, Finisher finisher) {
        this.decisions = decisions;
        this.identities = identities;
        this.faces = faces;
        this.model = model;
        this.finisher = finisher;
        this.token = randomToken(24);
    }

    private String randomToken(int bytes) {
        byte[] b = new byte[bytes];
        random.nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    /** Starts listening on 127.0.0.1:{@code port} (0 = any free port); returns the page's address, token included. */
    public URI start(int port) throws IOException {
        InetAddress loopback = InetAddress.getByAddress("127.0.0.1", new byte[] {127, 0, 0, 1});
        try {
            server = HttpServer.create(new InetSocketAddress(loopback, port), 0);
        } catch (java.net.BindException e) {
            throw new KitException("port " + port + " on 127.0.0.1 is in use: the review page cannot be served there",
                    "choose another with --port N, or leave --port out to take a free one", e);
        }
        pool = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "review-http");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(pool);
        server.createContext("/", this::handle);
        server.start();
        this.port = server.getAddress().getPort();
        return url();
    }

    public URI url() {
        return URI.create("http://127.0.0.1:" + port + "/" + token + "/");
    }

    public int port() {
        return port;
    }

    /**
     * Ends the review once (later calls return the first summary): no more decisions are taken,
     * the finisher applies them, and {@link #awaitFinished} returns.
     */
    public synchronized ObjectNode finish(String how) throws Exception {
        if (finished.getCount() == 0) {
            if (failure != null) throw failure;
            return summary;
        }
        try {
            summary = finisher.finish(how);
            return summary;
        } catch (Exception e) {
            failure = e;
            throw e;
        } finally {
            finished.countDown();
        }
    }

    public boolean isFinished() {
        return finished.getCount() == 0;
    }

    /** Waits until the review ends; returns its summary, or rethrows what made applying fail. */
    public ObjectNode awaitFinished() throws Exception {
        finished.await();
        synchronized (this) {
            if (failure != null) throw failure;
            return summary;
        }
    }

    @Override
    public void close() {
        if (server != null) server.stop(2);
        if (pool != null) pool.shutdownNow();
    }

    // ------------------------------------------------------------------ requests

    private void handle(HttpExchange ex) throws IOException {
        try {
            String host = ex.getRequestHeaders().getFirst("Host");
            if (!isThisServer(host, false)) {
                deny(ex, "wrong Host");
                return;
            }
            String path = ex.getRequestURI().getRawPath();
            String rest = afterToken(path);
            if (rest == null) {
                deny(ex, "no valid token");
                return;
            }
            if (rest.isEmpty()) {
                ex.getResponseHeaders().set("Location", "/" + token + "/");
                send(ex, 302, "text/plain", new byte[0]);
                return;
            }
            String method = ex.getRequestMethod();
            if (method.equals("POST")) {
                if (!isThisServer(ex.getRequestHeaders().getFirst("Origin"), true)) {
                    deny(ex, "wrong Origin");
                    return;
                }
                String type = ex.getRequestHeaders().getFirst("Content-Type");
                if (type == null || !type.toLowerCase(java.util.Locale.ROOT).startsWith("application/json")) {
                    sendJson(ex, 415, error("a POST must be application/json"));
                    return;
                }
                post(ex, rest, readBody(ex));
            } else if (method.equals("GET") || method.equals("HEAD")) {
                get(ex, rest);
            } else {
                ex.getResponseHeaders().set("Allow", "GET, POST");
                send(ex, 405, "text/plain", "method not allowed\n".getBytes(StandardCharsets.UTF_8));
            }
        } catch (KitException e) {
            sendJson(ex, 500, error(String.join(" ", e.lines())));
        } catch (Exception e) {
            sendJson(ex, 500, error("the review server failed: " + e));
        } finally {
            ex.close();
        }
    }

    /** The part of the path after "/<token>" ("" or "/..."), or null when the token is absent or wrong. */
    private String afterToken(String path) {
        if (path == null || !path.startsWith("/")) return null;
        int end = path.indexOf('/', 1);
        String given = end < 0 ? path.substring(1) : path.substring(1, end);
        // Constant time, so the token cannot be guessed one character at a time.
        if (!MessageDigest.isEqual(given.getBytes(StandardCharsets.UTF_8), token.getBytes(StandardCharsets.UTF_8))) return null;
        return end < 0 ? "" : path.substring(end);
    }

    /** Host "127.0.0.1:port" / "localhost:port", or (for Origin) the same with "http://". */
    private boolean isThisServer(String value, boolean origin) {
        if (value == null) return false;
        String v = value.strip().toLowerCase(java.util.Locale.ROOT);
        if (origin) {
            if (!v.startsWith("http://")) return false;
            v = v.substring("http://".length());
        }
        return Set.of("127.0.0.1:" + port, "localhost:" + port).contains(v);
    }

    private void get(HttpExchange ex, String rest) throws IOException {
        if (rest.equals("/")) {
            String nonce = randomToken(16);
            ex.getResponseHeaders().set("Content-Security-Policy", "default-src 'none'; img-src 'self' data:; style-src 'nonce-" + nonce
                    + "'; script-src 'nonce-" + nonce + "'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
            ex.getResponseHeaders().set("X-Frame-Options", "DENY");
            send(ex, 200, "text/html; charset=utf-8", ReviewApp.html(model.get(), nonce).getBytes(StandardCharsets.UTF_8));
        } else if (rest.startsWith("/crop/") || rest.startsWith("/photo/")) {
            boolean crop = rest.startsWith("/crop/");
            String face = URLDecoder.decode(rest.substring(crop ? 6 : 7), StandardCharsets.UTF_8);
            if (!shownFace(face)) {
                send(ex, 404, "text/plain", "no such face in this review\n".getBytes(StandardCharsets.UTF_8));
                return;
            }
            ReviewFaces.Picture p = crop ? faces.crop(face) : faces.photo(face);
            send(ex, 200, p.contentType(), p.bytes());
        } else if (rest.equals("/api/state")) {
            sendJson(ex, 200, state());
        } else {
            send(ex, 404, "text/plain", "not found\n".getBytes(StandardCharsets.UTF_8));
        }
    }

    /** Only the faces of this review (proposed faces and the proposed people's own) are served: no other file. */
    private boolean shownFace(String face) {
        if (decisions.proposals().byFace(face) != null) return true;
        JsonNode ids = identities.path("identities");
        for (Matcher.Proposal p : decisions.proposals().proposals()) {
            JsonNode person = ids.path(p.targetIdentityId());
            if (person.isObject() && Identities.faceIds(person).contains(face)) return true;
        }
        return false;
    }

    private void post(HttpExchange ex, String rest, JsonNode body) throws Exception {
        switch (rest) {
            case "/api/decision" -> {
                if (isFinished()) {
                    sendJson(ex, 409, error("the review has ended; start ./jbang review again to change decisions"));
                    return;
                }
                String face = body.path("face_id").asText("");
                JsonNode d = body.get("decision");
                ReviewDecisions.Decision decision = d == null || d.isNull() ? null : ReviewDecisions.Decision.parse(d.asText());
                if (decisions.proposals().byFace(face) == null || (d != null && !d.isNull() && decision == null)) {
                    sendJson(ex, 400, error("unknown face or decision"));
                    return;
                }
                ReviewDecisions.Entry e = decisions.record(face, decision, identities);
                ObjectNode out = JsonFiles.object();
                out.put("face_id", face);
                out.put("decision", e == null ? null : e.decision().json());
                out.set("counts", JsonFiles.MAPPER.valueToTree(decisions.counts()));
                sendJson(ex, 200, out);
            }
            case "/api/accept-all" -> {
                if (isFinished()) {
                    sendJson(ex, 409, error("the review has ended"));
                    return;
                }
                String person = body.path("target_identity_id").asText("");
                ObjectNode changed = JsonFiles.object();
                for (Matcher.Proposal p : decisions.proposals().reviewOrder()) {
                    if (!p.targetIdentityId().equals(person) || p.ambiguous()) continue;
                    ReviewDecisions.Entry e = decisions.get(p.faceId());
                    if (e != null && (e.decision() == ReviewDecisions.Decision.REJECT || e.appliedAt() != null)) continue;
                    decisions.record(p.faceId(), ReviewDecisions.Decision.ACCEPT, identities);
                    changed.put(p.faceId(), "accept");
                }
                ObjectNode out = JsonFiles.object();
                out.set("decisions", changed);
                out.set("counts", JsonFiles.MAPPER.valueToTree(decisions.counts()));
                sendJson(ex, 200, out);
            }
            case "/api/done" -> sendJson(ex, 200, finish("page"));
            default -> send(ex, 404, "text/plain", "not found\n".getBytes(StandardCharsets.UTF_8));
        }
    }

    private ObjectNode state() {
        ObjectNode out = JsonFiles.object();
        ObjectNode d = out.putObject("decisions");
        for (ReviewDecisions.Entry e : decisions.entries()) d.put(e.faceId(), e.decision().json());
        out.set("counts", JsonFiles.MAPPER.valueToTree(decisions.counts()));
        out.put("finished", isFinished());
        return out;
    }

    private static JsonNode readBody(HttpExchange ex) throws IOException {
        try (InputStream in = ex.getRequestBody()) {
            byte[] b = in.readNBytes(MAX_BODY + 1);
            if (b.length > MAX_BODY) throw new KitException("request too large");
            if (b.length == 0) return JsonFiles.object();
            return JsonFiles.parse(b, "the request");
        }
    }

    private static ObjectNode error(String message) {
        ObjectNode o = JsonFiles.object();
        o.put("error", message);
        return o;
    }

    private static void deny(HttpExchange ex, String why) throws IOException {
        send(ex, 403, "text/plain", ("forbidden: " + why + "\n").getBytes(StandardCharsets.UTF_8));
    }

    private static void sendJson(HttpExchange ex, int code, JsonNode body) throws IOException {
        send(ex, code, "application/json; charset=utf-8", JsonFiles.compact(body).getBytes(StandardCharsets.UTF_8));
    }

    private static void send(HttpExchange ex, int code, String type, byte[] body) throws IOException {
        var h = ex.getResponseHeaders();
        h.set("Content-Type", type);
        h.set("Cache-Control", "no-store");
        h.set("X-Content-Type-Options", "nosniff");
        h.set("Referrer-Policy", "no-referrer");
        boolean head = ex.getRequestMethod().equals("HEAD");
        ex.sendResponseHeaders(code, head || body.length == 0 ? -1 : body.length);
        if (!head && body.length > 0) {
            try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
            }
        }
    }
}
