import java.net.URI;
import java.util.List;

/**
 * Where the archive's object storage is and as whom to connect: Cloudflare R2 from the R2_*
 * variables, or any S3-compatible store (the sandbox's, the tests') at R2_ENDPOINT_URL.
 * {@code pathStyle}: the bucket goes in the path, as custom endpoints expect.
 * The secret never appears in {@link #toString()}.
 */
public record StoreSettings(URI endpoint, String bucket, String accessKey, String secretKey, boolean pathStyle) {

    @Override
    public String toString() {
        return "bucket '" + bucket + "' at " + endpoint;
    }

    /** The variables {@code config} still lacks for uploads (empty when complete). */
    public static List<String> missing(KitConfig config) {
        return config.missing(needed(config));
    }

    private static List<String> needed(KitConfig config) {
        return config.get(KitConfig.R2_ENDPOINT_URL) != null
                ? List.of(KitConfig.R2_ACCESS_KEY_ID, KitConfig.R2_SECRET_ACCESS_KEY, KitConfig.R2_BUCKET_NAME)
                : KitConfig.R2_VARIABLES;
    }

    /**
     * The settings from the R2_* variables: R2_ENDPOINT_URL when set, else Cloudflare's endpoint
     * for R2_ACCOUNT_ID. One message lists every missing variable.
     */
    public static StoreSettings from(KitConfig config) {
        String custom = config.get(KitConfig.R2_ENDPOINT_URL);
        config.require(needed(config), "Uploading to R2");
        URI endpoint;
        try {
            endpoint = URI.create(custom != null ? stripSlash(custom)
                    : "https://" + config.get(KitConfig.R2_ACCOUNT_ID) + ".r2.cloudflarestorage.com");
            if (endpoint.getScheme() == null || endpoint.getHost() == null) throw new IllegalArgumentException("no scheme or host");
        } catch (IllegalArgumentException e) {
            throw new KitException((custom != null ? "R2_ENDPOINT_URL" : "R2_ACCOUNT_ID") + " does not make a valid URL (" + e.getMessage() + ")",
                    custom != null ? "set R2_ENDPOINT_URL to e.g. http://127.0.0.1:9000" : "R2_ACCOUNT_ID is the 32-character id shown in the Cloudflare dashboard, R2 overview");
        }
        return new StoreSettings(endpoint, config.get(KitConfig.R2_BUCKET_NAME), config.get(KitConfig.R2_ACCESS_KEY_ID),
                config.get(KitConfig.R2_SECRET_ACCESS_KEY), custom != null);
    }

    private static String stripSlash(String s) {
        return s.endsWith("/") ? s.substring(0, s.length() - 1) : s;
    }
}
