import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * The local site's sync API over HTTP (spec/production-sync-api.md): routing, methods and the
 * token in Starlette's order, the same status codes and text and JSON bodies as production,
 * downloads streamed from disk. What each endpoint does to the site's folder is
 * {@link SiteStaging}'s and {@link SiteDocuments}'s.
 */
final class SiteHttpApi {
    static final String DOWNLOAD_PREFIX = "/api/sync/staged/download/";
    static final String NOT_CONFIGURED = "Sync API not configured (RHODESLI_SYNC_TOKEN not set)";

    /** One answer: a status, a content type and either bytes or a file to stream. */
    record Reply(int status, String contentType, byte[] body, Path file, Map<String, String> headers) {
        static Reply text(int status, String text) {
            return new Reply(status, "text/plain; charset=utf-8", text.getBytes(StandardCharsets.UTF_8), null, Map.of());
        }

        static Reply json(JsonNode node) {
            // Compact, as Starlette's JSONResponse writes it.
            return new Reply(200, "application/json", JsonFiles.compact(node).getBytes(StandardCharsets.UTF_8), null, Map.of());
        }
    }

    /** A request that cannot be served as asked; becomes a text reply. */
    static final class Refusal extends Exception {
        final int status;

        Refusal(int status, String text) {
            super(text, null, false, false);
            this.status = status;
        }
    }

    final Path root;
    final String token;
    final Consumer<String> log;
    final SiteStaging staging;
    final SiteDocuments documents;

    /** {@code token} null: every authenticated endpoint answers 503, as production does without one. */
    SiteHttpApi(Path root, String token, Consumer<String> log) {
        this.root = root;
        this.token = token;
        this.log = log;
        // Push, clear, mark-processed and the staged listing never interleave: each sees the folder whole.
        ReentrantLock writes = new ReentrantLock();
        this.staging = new SiteStaging(root, writes);
        this.documents = new SiteDocuments(root, writes);
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
        if (path.equals("/api/sync/status")) return Reply.json(documents.status());
        Reply denied = checkToken(ex);
        if (denied != null) return denied;
        if (path.startsWith(DOWNLOAD_PREFIX)) return download(path.substring(DOWNLOAD_PREFIX.length()));
        return switch (path) {
            case "/api/sync/identities" -> wholeFile("identities.json");
            case "/api/sync/photo-index" -> wholeFile("photo_index.json");
            case "/api/sync/annotations" -> Reply.json(documents.annotations());
            case "/api/sync/staged" -> Reply.json(staging.listStaged());
            case "/api/sync/staged/clear" -> Reply.json(staging.clear(body(ex)));
            case "/api/sync/staged/mark-processed" -> Reply.json(staging.markProcessed(body(ex)));
            case "/api/sync/push" -> Reply.json(documents.push(body(ex)));
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

    Reply wholeFile(String name) throws IOException {
        JsonNode doc = documents.wholeFile(name);
        return doc == null ? Reply.text(404, "File not found") : Reply.json(doc);
    }

    Reply download(String rawRest) throws IOException, Refusal {
        if (rawRest.isEmpty()) return Reply.text(404, "File not found");
        if (rawRest.startsWith("/")) throw new Refusal(400, "Invalid path");
        List<String> segments = new ArrayList<>();
        for (String raw : rawRest.split("/", -1)) {
            String seg = PythonWire.percentDecode(raw);
            // A '/' or NUL inside one segment (%2F, %00) is never a real file name: the site
            // replaces '/' in uploaded names. Production would take %2F as a separator; refusing is safer.
            if (seg == null || seg.indexOf('/') >= 0 || seg.indexOf('\0') >= 0) throw new Refusal(400, "Invalid path");
            segments.add(seg);
        }
        Path target = staging.insideStaging(String.join("/", segments));
        if (target == null) throw new Refusal(400, "Invalid path");
        if (!Files.isRegularFile(target)) return Reply.text(404, "File not found");
        String name = target.getFileName().toString();
        String encoded = PythonWire.percentEncode(name);
        String disposition = encoded.equals(name) ? "attachment; filename=\"" + name + "\"" : "attachment; filename*=utf-8''" + encoded;
        return new Reply(200, "application/octet-stream", null, target, Map.of("Content-Disposition", disposition));
    }

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
