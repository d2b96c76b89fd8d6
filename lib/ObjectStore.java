//DEPS software.amazon.awssdk:s3:2.54.2
//DEPS software.amazon.awssdk:url-connection-client:2.54.2
//DEPS org.slf4j:slf4j-api:2.0.18
//DEPS org.slf4j:slf4j-nop:2.0.18
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import software.amazon.awssdk.endpoints.Endpoint;
import software.amazon.awssdk.http.auth.spi.scheme.AuthSchemeOption;
import software.amazon.awssdk.services.s3.auth.scheme.S3AuthSchemeParams;
import software.amazon.awssdk.services.s3.endpoints.S3EndpointParams;
import software.amazon.awssdk.services.s3.endpoints.S3EndpointProvider;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.http.SdkHttpClient;
import software.amazon.awssdk.http.SdkHttpRequest;
import software.amazon.awssdk.http.auth.aws.scheme.AwsV4AuthScheme;
import software.amazon.awssdk.http.auth.aws.signer.AwsV4FamilyHttpSigner;
import software.amazon.awssdk.http.auth.spi.scheme.AuthScheme;
import software.amazon.awssdk.http.auth.spi.signer.AsyncSignRequest;
import software.amazon.awssdk.http.auth.spi.signer.AsyncSignedRequest;
import software.amazon.awssdk.http.auth.spi.signer.HttpSigner;
import software.amazon.awssdk.http.auth.spi.signer.SignRequest;
import software.amazon.awssdk.http.auth.spi.signer.SignedRequest;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.identity.spi.AwsCredentialsIdentity;
import software.amazon.awssdk.identity.spi.IdentityProvider;
import software.amazon.awssdk.identity.spi.IdentityProviders;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3Configuration;
import software.amazon.awssdk.services.s3.auth.scheme.S3AuthSchemeProvider;

/**
 * A connection to the archive's object storage (Cloudflare R2, or any S3-compatible store): the
 * S3 client set up the way R2 and S3Proxy both accept, with retries, and the two things done
 * over it — {@link #plan} (what differs, {@link UploadPlan}) and {@link #execute} (send exactly
 * that, {@link ObjectTransfer}) — plus {@link #download} of one object by key into a file.
 *
 * <p>The client is the SDK's lightest set-up: the JDK's own HttpURLConnection (no connection-pool
 * library to load at start-up), no flexible checksums, and no SHA-256 of the payload (integrity
 * comes from Content-MD5 on every PUT and part, which the store checks, and from the ETags it
 * answers, which {@link ObjectTransfer} compares). Small objects are sent by {@link SignedPut}
 * over the same HTTP client, at the address the same endpoint rules give ({@link #signedPut}).
 */
public final class ObjectStore implements AutoCloseable {
    public static final int DEFAULT_PARALLEL = 4;

    private final StoreSettings settings;
    private final S3Client s3;
    private final SdkHttpClient http;
    private final SameEndpoint endpoints;
    private final int parallel;
    private final Md5Cache md5s;

    private ObjectStore(StoreSettings settings, S3Client s3, SdkHttpClient http, SameEndpoint endpoints, int parallel, Md5Cache md5s) {
        this.settings = settings;
        this.s3 = s3;
        this.http = http;
        this.endpoints = endpoints;
        this.parallel = parallel;
        this.md5s = md5s;
    }

    /** A client for {@code settings} doing at most {@code parallel} transfers at once, without an MD5 cache. */
    public static ObjectStore open(StoreSettings settings, int parallel) {
        return open(settings, parallel, Md5Cache.none());
    }

    /**
     * A client for {@code settings} doing at most {@code parallel} transfers at once. {@code md5CacheFile}
     * (may be null) remembers local files' MD5s ({@link Md5Cache}), so a re-run does not read every photo again.
     */
    public static ObjectStore open(StoreSettings settings, int parallel, Path md5CacheFile) {
        return open(settings, parallel, Md5Cache.at(md5CacheFile));
    }

    /** The same with a given cache ({@link Md5Cache#readOnly} for a dry run, which writes nothing). */
    public static ObjectStore open(StoreSettings settings, int parallel, Md5Cache md5s) {
        int p = Math.max(1, parallel);
        // The SDK logs through SLF4J; this class brings slf4j-nop so a step stays silent. When another
        // provider is on the class path too (tests), name one so SLF4J prints no warning about it.
        if (System.getProperty("slf4j.provider") == null) {
            System.setProperty("slf4j.internal.verbosity", "WARN");
            System.setProperty("slf4j.provider", "org.slf4j.nop.NOPServiceProvider");
        }
        SdkHttpClient http = httpClient(settings);
        SameEndpoint endpoints = new SameEndpoint();
        S3Client s3 = S3Client.builder()
                .endpointOverride(settings.endpoint())
                .region(REGION)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(settings.accessKey(), settings.secretKey())))
                .forcePathStyle(settings.pathStyle())
                // No aws-chunked framing, and no "Expect: 100-continue" (a round trip per photo; the
                // bucket listing has already proved the credentials before any upload starts).
                .serviceConfiguration(S3Configuration.builder().chunkedEncodingEnabled(false).expectContinueEnabled(false).build())
                .putAuthScheme(new UnsignedPayloadScheme())
                .authSchemeProvider(new SameAuthScheme())
                .endpointProvider(endpoints)
                // Recent SDKs add CRC trailers (aws-chunked) by default, which R2 and S3Proxy do not all
                // accept; integrity comes from our own Content-MD5 instead.
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .httpClient(http)
                // Throttling (429/503), other 5xx and dropped connections are retried with
                // exponential backoff and jitter, five tries in all.
                .overrideConfiguration(o -> o.retryStrategy(AwsRetryStrategy.standardRetryStrategy().toBuilder().maxAttempts(MAX_ATTEMPTS).build()))
                .build();
        return new ObjectStore(settings, s3, http, endpoints, p, md5s);
    }

    /** Tries in all for one request, by the S3 client and by {@link SignedPut} alike. */
    static final int MAX_ATTEMPTS = 5;

    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration READ_TIMEOUT = Duration.ofSeconds(120);

    /**
     * Over http (local stores) the connections come from {@link WideWriteConnection}: bodies reach
     * the socket in large writes, and no TLS context is built (loading the JDK's CA certificates
     * is a tenth of a second of start-up that plain http never uses). Over https the SDK's own.
     */
    private static SdkHttpClient httpClient(StoreSettings settings) {
        if ("http".equalsIgnoreCase(settings.endpoint().getScheme())) {
            return UrlConnectionHttpClient.create(uri -> WideWriteConnection.open(uri, CONNECT_TIMEOUT, READ_TIMEOUT));
        }
        return UrlConnectionHttpClient.builder().connectionTimeout(CONNECT_TIMEOUT).socketTimeout(READ_TIMEOUT).build();
    }

    /**
     * The PutObject sender for this store's bucket ({@link SignedPut}), at the address S3's endpoint
     * rules give the S3 client for it; null when the rules ask for anything but plain SigV4 (then
     * the S3 client sends every object).
     */
    SignedPut signedPut() {
        S3EndpointParams p = S3EndpointParams.builder().region(REGION).bucket(settings.bucket()).endpoint(settings.endpoint().toString())
                .forcePathStyle(settings.pathStyle()).useFips(false).useDualStack(false).accelerate(false).useGlobalEndpoint(false)
                .build();
        Endpoint e;
        try {
            e = endpoints.resolveEndpoint(p).join();
        } catch (RuntimeException ex) {
            return null; // the S3 client says what is wrong, naming the bucket
        }
        var schemes = e.attribute(software.amazon.awssdk.awscore.endpoints.AwsEndpointAttribute.AUTH_SCHEMES);
        if (schemes == null || schemes.size() != 1
                || !(schemes.get(0) instanceof software.amazon.awssdk.awscore.endpoints.authscheme.SigV4AuthScheme v4)) {
            return null;
        }
        if (e.headers() != null && !e.headers().isEmpty()) return null;
        String region = v4.signingRegion() != null ? v4.signingRegion() : REGION.id();
        String name = v4.signingName() != null ? v4.signingName() : "s3";
        return new SignedPut(http, AwsBasicCredentials.create(settings.accessKey(), settings.secretKey()), e.endpointUrl().toUri().toString(), region, name);
    }

    private static final Region REGION = Region.of("auto");

    /**
     * The parameters of S3's endpoint rules that vary from request to request are the object key,
     * prefix, copy source and keys to delete, and the rules read none of them (they read the
     * bucket, region, endpoint and flags): so one answer per bucket and operation is the answer
     * for every request. Without this the whole rule set ran twice per request (for the auth
     * scheme and for the endpoint), a sixth of the SDK's work per photo.
     */
    private static List<Object> rulesKey(Object operation, software.amazon.awssdk.regions.Region region, String bucket, Boolean useFips,
            Boolean useDualStack, String endpoint, Boolean forcePathStyle, Boolean accelerate, Boolean useGlobalEndpoint,
            Boolean useObjectLambdaEndpoint, Boolean disableAccessPoints, Boolean disableMultiRegionAccessPoints, Boolean useArnRegion,
            Boolean useS3ExpressControlEndpoint, Boolean disableS3ExpressSessionAuth) {
        return java.util.Arrays.asList(operation, region, bucket, useFips, useDualStack, endpoint, forcePathStyle, accelerate,
                useGlobalEndpoint, useObjectLambdaEndpoint, disableAccessPoints, disableMultiRegionAccessPoints, useArnRegion,
                useS3ExpressControlEndpoint, disableS3ExpressSessionAuth);
    }

    /** S3's auth scheme (SigV4, from the endpoint rules) without payload signing, resolved once per bucket and operation. */
    static final class SameAuthScheme implements S3AuthSchemeProvider {
        private final S3AuthSchemeProvider rules = S3AuthSchemeProvider.defaultProvider();
        private final Map<List<Object>, List<AuthSchemeOption>> known = new ConcurrentHashMap<>();

        @Override
        public List<AuthSchemeOption> resolveAuthScheme(S3AuthSchemeParams p) {
            List<Object> key = rulesKey(p.operation(), p.region(), p.bucket(), p.useFips(), p.useDualStack(), p.endpoint(), p.forcePathStyle(),
                    p.accelerate(), p.useGlobalEndpoint(), p.useObjectLambdaEndpoint(), p.disableAccessPoints(),
                    p.disableMultiRegionAccessPoints(), p.useArnRegion(), p.useS3ExpressControlEndpoint(), p.disableS3ExpressSessionAuth());
            return known.computeIfAbsent(key, k -> rules.resolveAuthScheme(p).stream()
                    .map(o -> o.toBuilder().putSignerProperty(AwsV4FamilyHttpSigner.PAYLOAD_SIGNING_ENABLED, false).build())
                    .toList());
        }
    }

    /** S3's endpoint rules, evaluated once per bucket (see {@link #rulesKey}). */
    static final class SameEndpoint implements S3EndpointProvider {
        private final S3EndpointProvider rules = S3EndpointProvider.defaultProvider();
        private final Map<List<Object>, CompletableFuture<Endpoint>> known = new ConcurrentHashMap<>();

        @Override
        public CompletableFuture<Endpoint> resolveEndpoint(S3EndpointParams p) {
            List<Object> key = rulesKey(null, p.region(), p.bucket(), p.useFips(), p.useDualStack(), p.endpoint(), p.forcePathStyle(),
                    p.accelerate(), p.useGlobalEndpoint(), p.useObjectLambdaEndpoint(), p.disableAccessPoints(),
                    p.disableMultiRegionAccessPoints(), p.useArnRegion(), p.useS3ExpressControlEndpoint(), p.disableS3ExpressSessionAuth());
            CompletableFuture<Endpoint> e = known.computeIfAbsent(key, k -> rules.resolveEndpoint(p));
            // A failed resolution is not kept: the next request asks the rules again.
            if (e.isCompletedExceptionally()) known.remove(key, e);
            return e;
        }
    }

    public StoreSettings settings() {
        return settings;
    }

    /** Compares {@code wanted} with the bucket: new / changed / unchanged for each object. Reads only. */
    public UploadPlan plan(List<UploadPlan.Wanted> wanted) {
        return plan(wanted, List.of());
    }

    /** The same, also saying which of {@code alsoAsk} (keys with no local file) the bucket holds. */
    public UploadPlan plan(List<UploadPlan.Wanted> wanted, List<String> alsoAsk) {
        return UploadPlan.make(s3, settings, wanted, alsoAsk, md5s, parallel);
    }

    /** Sends exactly the new and changed items of {@code plan}, verified; {@code progress} may be null. */
    public ObjectTransfer.Outcome execute(UploadPlan plan, ProgressBar progress) {
        return new ObjectTransfer(s3, signedPut(), settings, md5s, parallel).send(plan, progress);
    }

    /**
     * Fetches the object {@code key} into {@code target} (written atomically); false when the bucket
     * holds no such object. Any other failure is a KitException naming the bucket and what to check.
     */
    public boolean download(String key, Path target) throws java.io.IOException {
        try (software.amazon.awssdk.core.ResponseInputStream<software.amazon.awssdk.services.s3.model.GetObjectResponse> in =
                     s3.getObject(b -> b.bucket(settings.bucket()).key(key))) {
            AtomicFiles.write(target, in);
            return true;
        } catch (software.amazon.awssdk.services.s3.model.NoSuchKeyException e) {
            return false;
        } catch (software.amazon.awssdk.services.s3.model.S3Exception e) {
            if (e.statusCode() == 404) return false;
            throw StoreErrors.explain(e, "downloading " + key, settings);
        } catch (software.amazon.awssdk.core.exception.SdkException e) {
            throw StoreErrors.explain(e, "downloading " + key, settings);
        }
    }

    @Override
    public void close() {
        s3.close();
        http.close(); // given to the S3 client ready-made, so it is ours to close
    }

    /**
     * SigV4 as the SDK does it, except that the payload is never hashed into the signature. Over
     * https the SDK already sends UNSIGNED-PAYLOAD when payload signing is off; over plain http
     * (S3Proxy, the sandbox, the tests) it insists on a SHA-256 of every body, a second pass over
     * every byte on both sides that adds nothing to Content-MD5. The signature covers the method,
     * path, query and headers, never the scheme: so the request is signed as if it went over https
     * and sent as it is. Only done where the Host header is the same either way (an explicit,
     * non-default port, as local stores have); elsewhere the SDK signs as usual.
     */
    static final class UnsignedPayloadScheme implements AuthScheme<AwsCredentialsIdentity> {
        private final AwsV4AuthScheme sigv4 = AwsV4AuthScheme.create();

        @Override
        public String schemeId() {
            return sigv4.schemeId();
        }

        @Override
        public IdentityProvider<AwsCredentialsIdentity> identityProvider(IdentityProviders providers) {
            return sigv4.identityProvider(providers);
        }

        @Override
        public HttpSigner<AwsCredentialsIdentity> signer() {
            HttpSigner<AwsCredentialsIdentity> signer = sigv4.signer();
            return new HttpSigner<>() {
                @Override
                public SignedRequest sign(SignRequest<? extends AwsCredentialsIdentity> request) {
                    SdkHttpRequest http = request.request();
                    if (!asIfHttps(http)) return signer.sign(request);
                    SignedRequest signed = signer.sign(request.copy(b -> b.request(signable(http))));
                    return signed.copy(b -> b.request(sendable(signed.request(), http)));
                }

                @Override
                public CompletableFuture<AsyncSignedRequest> signAsync(AsyncSignRequest<? extends AwsCredentialsIdentity> request) {
                    return signer.signAsync(request);
                }
            };
        }

    }

    private static boolean asIfHttps(SdkHttpRequest http) {
        return "http".equals(http.protocol()) && http.port() != 80 && http.port() != 443 && http.port() > 0;
    }

    /** {@code request} as it is signed without a payload hash: over plain http to a non-default port, as if over https. */
    static SdkHttpRequest signable(SdkHttpRequest request) {
        return asIfHttps(request) ? request.toBuilder().protocol("https").build() : request;
    }

    /** The {@code signed} form of {@link #signable}'s answer for {@code original}, sent the way {@code original} goes. */
    static SdkHttpRequest sendable(SdkHttpRequest signed, SdkHttpRequest original) {
        return asIfHttps(original) ? signed.toBuilder().protocol(original.protocol()).port(original.port()).build() : signed;
    }
}
