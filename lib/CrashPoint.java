/**
 * Named points where the crash tests stop the pipeline dead, as kill -9 would: no finally
 * blocks, no shutdown hooks, files left exactly as they are at that instant. Inert unless the
 * environment variable KIT_CRASH_AT names a point, e.g. {@code KIT_CRASH_AT=ingest.photo:2}
 * halts at the 2nd time the ingest finishes a photo, {@code KIT_CRASH_AT=after:download} after step 2.
 */
public final class CrashPoint {
    private static final String SPEC = System.getenv("KIT_CRASH_AT");
    private static final java.util.Map<String, Integer> HITS = new java.util.concurrent.ConcurrentHashMap<>();

    private CrashPoint() {}

    public static void reach(String name) {
        if (SPEC == null || SPEC.isEmpty()) return;
        int colon = SPEC.lastIndexOf(':');
        String want = SPEC;
        int nth = 1;
        if (colon > 0 && SPEC.substring(colon + 1).matches("\\d+")) {
            want = SPEC.substring(0, colon);
            nth = Integer.parseInt(SPEC.substring(colon + 1));
        }
        if (!want.equals(name)) return;
        if (HITS.merge(name, 1, Integer::sum) == nth) {
            System.err.println("[crash test] halting at " + name + " (#" + nth + ")");
            System.err.flush();
            Runtime.getRuntime().halt(137);
        }
    }
}
