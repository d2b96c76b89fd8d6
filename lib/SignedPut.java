import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ThreadLocalRandom;
import software.amazon.awssdk.awscore.exception.AwsErrorDetails;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.http.ContentStreamProvider;
import software.amazon.awssdk.http.HttpExecuteRequest;
import software.amazon.awssdk.http.HttpExecuteResponse;
import software.amazon.awssdk.http.SdkHttpClient;
import software.amazon.awssdk.http.SdkHttpMethod;
import software.amazon.awssdk.http.SdkHttpRequest;
import software.amazon.awssdk.http.auth.aws.signer.AwsV4HttpSigner;
import software.amazon.awssdk.http.auth.spi.signer.SignedRequest;
import software.amazon.awssdk.identity.spi.AwsCredentialsIdentity;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.utils.http.SdkHttpUtils;

/**
 * One PutObject of a body in memory, signed with the SDK's SigV4 signer and sent through the
 * SDK's HTTP client, without the S3 client's request pipeline around it.
 *
 * <p>Why: a first upload is mostly small files, and for each the S3 client runs some thirty
 * stages and a dozen interceptors (auth-scheme and endpoint resolution, marshalling, checksum
 * and user-agent stages, metrics, XML unmarshalling of an empty answer): on two cores that was a
 * third of the transfer threads' CPU, and the first hundreds of requests ran it interpreted.
 * The request here is what the S3 client sends for the same call: the bucket's address from
 * S3's endpoint rules ({@link ObjectStore}), the key URL-encoded as the S3 client encodes it,
 * Content-Type, Content-Length, Content-MD5, and SigV4 without a payload hash (Content-MD5 guards
 * the bytes; over plain http signed as if over https, see {@link ObjectStore}). Failures come
 * out as the S3 client's would (an {@link S3Exception} with the store's error code, an
 * {@link SdkClientException} when the store cannot be reached), after the same five tries with
 * exponential backoff and jitter for throttling, 5xx answers and dropped connections.
 */
final class SignedPut {
    private final SdkHttpClient http;
    private final AwsCredentialsIdentity credentials;
    private final String bucketUrl;
    private final String signingRegion;
    private final String signingName;
    private final AwsV4HttpSigner signer = AwsV4HttpSigner.create();

    /**
     * @param bucketUrl the bucket's address as S3's endpoint rules give it ("http://host:port/bucket"
     *                  in path style, "https://bucket.host" otherwise), without a trailing slash
     */
    SignedPut(SdkHttpClient http, AwsCredentialsIdentity credentials, String bucketUrl, String signingRegion, String signingName) {
        this.http = http;
        this.credentials = credentials;
        this.bucketUrl = bucketUrl.endsWith("/") ? bucketUrl.substring(0, bucketUrl.length() - 1) : bucketUrl;
        this.signingRegion = signingRegion;
        this.signingName = signingName;
    }

    /** The address of {@code key}: the bucket's address, then the key encoded as S3's greedy path label ("/" kept). */
    URI uri(String key) {
        return URI.create(bucketUrl + "/" + SdkHttpUtils.urlEncodeIgnoreSlashes(key));
    }

    /** The PutObject request for {@code key}, before signing. */
    SdkHttpRequest request(String key, String contentType, int length, String contentMd5) {
        return SdkHttpRequest.builder().method(SdkHttpMethod.PUT).uri(uri(key))
                .putHeader("Content-Type", contentType)
                .putHeader("Content-Length", Integer.toString(length))
                .putHeader("Content-MD5", contentMd5)
                .build();
    }

    /** {@code request} signed now (SigV4, no payload hash), ready to send the way {@code request} goes. */
    SdkHttpRequest sign(SdkHttpRequest request, ContentStreamProvider body) {
        SignedRequest signed = signer.sign(r -> r.identity(credentials).request(ObjectStore.signable(request)).payload(body)
                .putProperty(AwsV4HttpSigner.SERVICE_SIGNING_NAME, signingName)
                .putProperty(AwsV4HttpSigner.REGION_NAME, signingRegion)
                .putProperty(AwsV4HttpSigner.PAYLOAD_SIGNING_ENABLED, false)
                // S3 signs the path as sent: neither encoded a second time nor normalised (as the S3 client's own auth scheme says).
                .putProperty(AwsV4HttpSigner.DOUBLE_URL_ENCODE, false)
                .putProperty(AwsV4HttpSigner.NORMALIZE_PATH, false));
        return ObjectStore.sendable(signed.request(), request);
    }

    /** PUTs {@code length} bytes of {@code buf} as {@code key}; returns the ETag the store answered (as sent, quotes and all). */
    String put(String key, String contentType, byte[] buf, int length, String contentMd5) {
        SdkHttpRequest request = request(key, contentType, length, contentMd5);
        ContentStreamProvider body = () -> new ByteArrayInputStream(buf, 0, length);
        for (int attempt = 1; ; attempt++) {
            try {
                return once(request, body);
            } catch (S3Exception e) {
                if (attempt >= ObjectStore.MAX_ATTEMPTS || !retryable(e.statusCode())) throw e;
                backoff(attempt, e.statusCode() == 429 || e.statusCode() == 503);
            } catch (IOException | java.io.UncheckedIOException e) {
                if (attempt >= ObjectStore.MAX_ATTEMPTS) {
                    throw SdkClientException.create("Unable to execute HTTP request: " + e.getMessage(), e);
                }
                backoff(attempt, false);
            }
        }
    }

    private String once(SdkHttpRequest request, ContentStreamProvider body) throws IOException {
        // Signed afresh on every try: x-amz-date must be current.
        SdkHttpRequest toSend = sign(request, body);
        HttpExecuteResponse response = http.prepareRequest(HttpExecuteRequest.builder().request(toSend).contentStreamProvider(body).build()).call();
        int status = response.httpResponse().statusCode();
        // The answer is always read to its end, so that the connection is kept for the next request.
        String answer = "";
        if (response.responseBody().isPresent()) {
            try (InputStream in = response.responseBody().get()) {
                answer = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
        }
        if (status / 100 == 2) return response.httpResponse().firstMatchingHeader("ETag").orElse(null);
        String code = xmlValue(answer, "Code");
        String message = xmlValue(answer, "Message");
        throw (S3Exception) S3Exception.builder().statusCode(status)
                .message((message != null ? message : "HTTP " + status) + " (Service: S3, Status Code: " + status + ")")
                .awsErrorDetails(AwsErrorDetails.builder().errorCode(code).errorMessage(message).serviceName("S3")
                        .sdkHttpResponse(response.httpResponse()).build())
                .build();
    }

    /** Throttling, the store's own trouble and timeouts are worth another try; a refusal (4xx) is not. */
    static boolean retryable(int status) {
        return status == 429 || status >= 500 || status == 408;
    }

    /** Full jitter over an exponential ceiling (100 ms, 200 ms, ...; throttling from 1 s), at most 20 s: the SDK's standard. */
    private static void backoff(int attempt, boolean throttled) {
        long base = throttled ? 1000 : 100;
        long ceiling = Math.min(20_000, base << Math.min(attempt - 1, 16));
        try {
            Thread.sleep(ThreadLocalRandom.current().nextLong(ceiling + 1));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw SdkClientException.create("interrupted", e);
        }
    }

    /** The text of the first {@code <tag>} of an S3 error document, or null. */
    static String xmlValue(String xml, String tag) {
        int from = xml.indexOf("<" + tag + ">");
        if (from < 0) return null;
        from += tag.length() + 2;
        int to = xml.indexOf("</" + tag + ">", from);
        return to < 0 ? null : xml.substring(from, to).strip();
    }
}
