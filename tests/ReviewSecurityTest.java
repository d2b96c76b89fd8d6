import static org.junit.jupiter.api.Assertions.*;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The review server answers only its own page: 127.0.0.1 only, the token in every URL, its own
 * Host, and for a POST its own Origin and a JSON body. Everything else is refused and records nothing.
 */
class ReviewSecurityTest {
    static final HttpClient HTTP = HttpClient.newHttpClient();

    /** A JSON POST to {@code base + path} carrying the Origin of {@code origin}. */
    static HttpRequest post(URI base, String path, URI origin, String json) {
        HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json));
        if (origin != null) b.header("Origin", origin.getScheme() + "://" + origin.getAuthority());
        return b.build();
    }

    static int get(URI url) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(url).GET().build(), HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    /** A raw HTTP/1.1 request (HttpClient will not send another Host): the status code of the answer. */
    static int raw(int port, String request) throws Exception {
        try (Socket s = new Socket(InetAddress.getByAddress(new byte[] {127, 0, 0, 1}), port)) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            out.write(request.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            InputStream in = s.getInputStream();
            String status = new String(in.readNBytes(12), StandardCharsets.ISO_8859_1);
            return Integer.parseInt(status.substring(9, 12));
        }
    }

    @Test
    void onlyTheTokenItsOwnHostAndOriginAreAnswered(@TempDir Path work) throws Exception {
        ReviewFlowTest.archive(work);
        ReviewFlowTest.Running r = ReviewFlowTest.startReview(work, KitContext.Mode.DRY_RUN);
        URI url = r.url();
        int port = url.getPort();
        String token = url.getPath().replace("/", "");
        assertTrue(token.length() >= 32, "a long random token: " + token);
        URI face = url.resolve("crop/" + ReviewFlowTest.ACCEPT_1.replace(" ", "%20").replace(":", "%3A"));

        // The token: nothing is answered without it.
        assertEquals(200, get(url));
        assertEquals(200, get(face));
        assertEquals(403, get(URI.create("http://127.0.0.1:" + port + "/")));
        assertEquals(403, get(URI.create("http://127.0.0.1:" + port + "/favicon.ico")));
        assertEquals(403, get(URI.create("http://127.0.0.1:" + port + "/crop/" + ReviewFlowTest.ACCEPT_2)));
        assertEquals(403, get(URI.create("http://127.0.0.1:" + port + "/" + token.substring(0, token.length() - 1) + "/")));
        assertEquals(403, get(URI.create("http://127.0.0.1:" + port + "/" + token + "x/")));
        assertEquals(403, HTTP.send(post(URI.create("http://127.0.0.1:" + port + "/"), "api/done", url, "{}"),
                HttpResponse.BodyHandlers.discarding()).statusCode());
        // Only the faces of this review: no other file through the image URLs.
        assertEquals(404, get(url.resolve("crop/..%2F..%2Fidentities.json")));
        assertEquals(404, get(url.resolve("photo/..%2Fidentities.json")));

        // Host: a page on another name pointing at 127.0.0.1 (DNS rebinding) is refused.
        assertEquals(200, raw(port, "GET /" + token + "/ HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nConnection: close\r\n\r\n"));
        assertEquals(403, raw(port, "GET /" + token + "/ HTTP/1.1\r\nHost: evil.example:" + port + "\r\nConnection: close\r\n\r\n"));
        assertEquals(403, raw(port, "GET /" + token + "/ HTTP/1.1\r\nHost: 127.0.0.1:" + (port + 1) + "\r\nConnection: close\r\n\r\n"));

        // Origin: a POST from another site's page, or with no Origin at all, is refused and records nothing.
        String body = "{\"face_id\": \"" + ReviewFlowTest.ACCEPT_1 + "\", \"decision\": \"accept\"}";
        assertEquals(403, HTTP.send(post(url, "api/decision", URI.create("http://evil.example"), body), HttpResponse.BodyHandlers.ofString()).statusCode());
        assertEquals(403, HTTP.send(post(url, "api/decision", URI.create("http://127.0.0.1:" + (port + 1)), body), HttpResponse.BodyHandlers.ofString()).statusCode());
        assertEquals(403, HTTP.send(post(url, "api/decision", null, body), HttpResponse.BodyHandlers.ofString()).statusCode());
        assertEquals(403, HTTP.send(post(url, "api/done", URI.create("http://evil.example"), "{}"), HttpResponse.BodyHandlers.ofString()).statusCode());
        // A form (no JSON) cannot post even with the right Origin.
        String form = "POST /" + token + "/api/decision HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nOrigin: http://127.0.0.1:" + port
                + "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 5\r\nConnection: close\r\n\r\na=b&c";
        assertEquals(415, raw(port, form));
        assertFalse(Files.exists(decisionsFile(work)), "nothing refused was recorded");
        assertTrue(r.outcome().isDone() == false, "the review still runs");

        // The same request from the page itself is taken.
        HttpResponse<String> ok = HTTP.send(post(url, "api/decision", url, body), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, ok.statusCode(), ok.body());
        assertEquals("accept", JsonFiles.readObject(decisionsFile(work)).get("decisions").get(ReviewFlowTest.ACCEPT_1).get("decision").asText());

        // The page forbids framing and foreign scripts.
        HttpResponse<String> page = HTTP.send(HttpRequest.newBuilder(url).GET().build(), HttpResponse.BodyHandlers.ofString());
        String csp = page.headers().firstValue("Content-Security-Policy").orElse("");
        assertTrue(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'nonce-"), csp);
        assertEquals("no-store", page.headers().firstValue("Cache-Control").orElse(""));

        assertOnlyOnLoopback(port);

        HttpResponse<String> done = HTTP.send(post(url, "api/done", url, "{}"), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, done.statusCode(), done.body());
        ReviewSession.Outcome o = r.outcome().get(30, TimeUnit.SECONDS);
        assertTrue(o.dryRun());
        assertEquals(0, o.appliedAccepted());
        // After Done the server is gone.
        assertThrows(ConnectException.class, () -> new Socket(InetAddress.getByAddress(new byte[] {127, 0, 0, 1}), port).close());
    }

    static Path decisionsFile(Path work) throws Exception {
        String run = ReviewDecisions.loadProposals(work.resolve("data")).run();
        return ReviewDecisions.fileFor(work.resolve("data/review"), run);
    }

    /** The port is open on 127.0.0.1 and refused on every other address of this machine (`hostname -I`); the kernel lists it bound to 127.0.0.1 only. */
    static void assertOnlyOnLoopback(int port) throws Exception {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(InetAddress.getByAddress(new byte[] {127, 0, 0, 1}), port), 5000);
        }
        List<InetAddress> others = new ArrayList<>();
        for (NetworkInterface ni : Collections.list(NetworkInterface.getNetworkInterfaces())) {
            for (InetAddress a : Collections.list(ni.getInetAddresses())) {
                if (a.isLoopbackAddress() || (a instanceof Inet6Address && a.isLinkLocalAddress())) continue;
                others.add(a);
            }
        }
        others.add(InetAddress.getByName("::1"));
        others.add(InetAddress.getByAddress(new byte[] {127, 0, 0, 2}));
        List<String> reached = new ArrayList<>();
        for (InetAddress a : others) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(a, port), 3000);
                reached.add(a.getHostAddress());
            } catch (ConnectException expected) {
                // refused: nothing listens there
            } catch (java.io.IOException other) {
                // unreachable address (no route): not served either
            }
        }
        assertEquals(List.of(), reached, "the review server answered on " + reached + " (tried " + others + ")");
        // The kernel's own table: the listening socket is 127.0.0.1:port, never 0.0.0.0 or [::].
        Path tcp = Path.of("/proc/net/tcp");
        if (Files.exists(tcp)) {
            String hexPort = String.format(Locale.ROOT, ":%04X", port);
            List<String> listening = new ArrayList<>();
            for (String f : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
                if (!Files.exists(Path.of(f))) continue;
                for (String line : Files.readAllLines(Path.of(f))) {
                    String[] cols = line.trim().split("\\s+");
                    if (cols.length > 3 && cols[1].endsWith(hexPort) && cols[3].equals("0A")) listening.add(cols[1]);
                }
            }
            // 127.0.0.1, as an IPv4 socket or as the IPv4-mapped ::ffff:127.0.0.1 of a dual-stack JVM: the same one address.
            assertEquals(1, listening.size(), "listening sockets on port " + port + ": " + listening);
            assertTrue(listening.get(0).equals("0100007F" + hexPort) || listening.get(0).equals("0000000000000000FFFF00000100007F" + hexPort),
                    "the listening socket is 127.0.0.1 only: " + listening);
        }
        System.out.println("port " + port + ": open on 127.0.0.1, refused on " + others.stream().map(InetAddress::getHostAddress).toList());
    }

    @Test
    void theScriptRefusesOptionsThatDoNotGoTogether() throws Exception {
        KitProcess.Result r = KitProcess.run(Map.of(), null, "steps/review.java", "--apply", "--terminal");
        assertEquals(2, r.exitCode(), r.all());
        assertTrue(r.stderr().contains("Usage error"), r.all());
        r = KitProcess.run(Map.of(), null, "steps/review.java", "--port", "70000");
        assertEquals(2, r.exitCode(), r.all());
    }
}
