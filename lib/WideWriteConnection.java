import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.URL;
import java.security.Permission;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * A plain-http {@link HttpURLConnection} whose request body reaches the socket in large writes.
 *
 * <p>Why: the SDK's url-connection client copies a body in 4 KB pieces, and the JDK's
 * fixed-length stream flushes after every piece, so each 4 KB became its own socket write
 * (80,000 system calls for 320 MB, against rclone's 12,000). Buffering the body here turns
 * them into {@link #BODY_BUFFER} writes. The buffer is flushed before anything that ends the
 * request (the response, the error stream, disconnect), so every byte the SDK wrote is sent
 * exactly as before; Content-Length and Content-MD5 still describe those bytes.
 *
 * <p>Everything else is passed to the JDK connection unchanged. Only for http: over https the
 * SDK's own connection (its TLS set-up and proxy settings) is kept.
 */
final class WideWriteConnection extends HttpURLConnection {
    /** Bytes handed to the socket at once: 16 of the SDK's 4 KB pieces. */
    static final int BODY_BUFFER = 64 * 1024;

    private final HttpURLConnection real;
    private BufferedOutputStream body;

    private WideWriteConnection(HttpURLConnection real) {
        super(real.getURL());
        this.real = real;
    }

    /** A connection to {@code uri} (http) with the given timeouts, as the SDK's default factory makes one. */
    static HttpURLConnection open(URI uri, Duration connectTimeout, Duration readTimeout) {
        HttpURLConnection c;
        try {
            c = (HttpURLConnection) uri.toURL().openConnection();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        c.setConnectTimeout((int) connectTimeout.toMillis());
        c.setReadTimeout((int) readTimeout.toMillis());
        return new WideWriteConnection(c);
    }

    @Override
    public OutputStream getOutputStream() throws IOException {
        if (body == null) body = new BufferedOutputStream(real.getOutputStream(), BODY_BUFFER);
        return body;
    }

    /** Sends what is still buffered: the request body is complete once the response is asked for. */
    private void sendBody() throws IOException {
        if (body != null) body.flush();
    }

    @Override
    public InputStream getInputStream() throws IOException {
        sendBody();
        return real.getInputStream();
    }

    @Override
    public int getResponseCode() throws IOException {
        sendBody();
        return real.getResponseCode();
    }

    @Override
    public String getResponseMessage() throws IOException {
        sendBody();
        return real.getResponseMessage();
    }

    @Override
    public InputStream getErrorStream() {
        return real.getErrorStream();
    }

    @Override
    public Map<String, List<String>> getHeaderFields() {
        return real.getHeaderFields();
    }

    @Override
    public String getHeaderField(String name) {
        return real.getHeaderField(name);
    }

    @Override
    public String getHeaderField(int n) {
        return real.getHeaderField(n);
    }

    @Override
    public String getHeaderFieldKey(int n) {
        return real.getHeaderFieldKey(n);
    }

    @Override
    public long getContentLengthLong() {
        return real.getContentLengthLong();
    }

    @Override
    public void connect() throws IOException {
        real.connect();
    }

    @Override
    public void disconnect() {
        real.disconnect();
    }

    @Override
    public boolean usingProxy() {
        return real.usingProxy();
    }

    @Override
    public URL getURL() {
        return real.getURL();
    }

    @Override
    public void setRequestMethod(String method) throws java.net.ProtocolException {
        real.setRequestMethod(method);
    }

    @Override
    public String getRequestMethod() {
        return real.getRequestMethod();
    }

    @Override
    public void setRequestProperty(String key, String value) {
        real.setRequestProperty(key, value);
    }

    @Override
    public void addRequestProperty(String key, String value) {
        real.addRequestProperty(key, value);
    }

    @Override
    public String getRequestProperty(String key) {
        return real.getRequestProperty(key);
    }

    @Override
    public Map<String, List<String>> getRequestProperties() {
        return real.getRequestProperties();
    }

    @Override
    public void setDoOutput(boolean doOutput) {
        real.setDoOutput(doOutput);
    }

    @Override
    public boolean getDoOutput() {
        return real.getDoOutput();
    }

    @Override
    public void setDoInput(boolean doInput) {
        real.setDoInput(doInput);
    }

    @Override
    public boolean getDoInput() {
        return real.getDoInput();
    }

    @Override
    public void setUseCaches(boolean useCaches) {
        real.setUseCaches(useCaches);
    }

    @Override
    public boolean getUseCaches() {
        return real.getUseCaches();
    }

    @Override
    public void setInstanceFollowRedirects(boolean follow) {
        real.setInstanceFollowRedirects(follow);
    }

    @Override
    public boolean getInstanceFollowRedirects() {
        return real.getInstanceFollowRedirects();
    }

    @Override
    public void setFixedLengthStreamingMode(int length) {
        real.setFixedLengthStreamingMode(length);
    }

    @Override
    public void setFixedLengthStreamingMode(long length) {
        real.setFixedLengthStreamingMode(length);
    }

    @Override
    public void setChunkedStreamingMode(int chunkLength) {
        real.setChunkedStreamingMode(chunkLength);
    }

    @Override
    public void setConnectTimeout(int timeout) {
        real.setConnectTimeout(timeout);
    }

    @Override
    public int getConnectTimeout() {
        return real.getConnectTimeout();
    }

    @Override
    public void setReadTimeout(int timeout) {
        real.setReadTimeout(timeout);
    }

    @Override
    public int getReadTimeout() {
        return real.getReadTimeout();
    }

    @Override
    public Permission getPermission() throws IOException {
        return real.getPermission();
    }

    @Override
    public String toString() {
        return real.toString();
    }
}
