import java.nio.file.Path;

/**
 * Where a file of the site's staging listing may land locally. The listing comes from the
 * network, so its paths are untrusted: an absolute path, a ".." segment or anything else that
 * would escape the destination folder is refused, never "cleaned up" into something else.
 */
public final class StagedPaths {
    private StagedPaths() {}

    /** The local file for {@code stagedPath} under {@code dest}; throws KitException saying why a path is refused. */
    public static Path target(Path dest, String stagedPath) {
        String why = refusal(stagedPath);
        if (why != null) {
            throw new KitException("refused staged path '" + Names.printable(stagedPath) + "': " + why,
                    "this file was skipped; the site's staging folder holds an unexpected name, check it on the site");
        }
        Path root = dest.toAbsolutePath().normalize();
        Path t = root.resolve(stagedPath).normalize();
        if (!t.startsWith(root) || t.equals(root)) {
            throw new KitException("refused staged path '" + Names.printable(stagedPath) + "': it would land outside " + root,
                    "this file was skipped; check the site's staging folder");
        }
        return t;
    }

    /** Why a path is refused, or null when it is acceptable. */
    static String refusal(String p) {
        if (p == null || p.isEmpty()) return "it is empty";
        if (p.startsWith("/") || p.startsWith("\\")) return "it is absolute";
        if (p.length() > 1 && p.charAt(1) == ':') return "it names a drive";
        if (p.indexOf('\\') >= 0) return "it holds a backslash";
        for (int i = 0; i < p.length(); i++) if (p.charAt(i) < 0x20 || p.charAt(i) == 0x7f) return "it holds a control character";
        for (String seg : p.split("/", -1)) {
            if (seg.isEmpty()) return "it holds an empty path segment";
            if (seg.equals("..")) return "it holds '..'";
            if (seg.equals(".")) return "it holds '.'";
        }
        return null;
    }

    /** The job an upload belongs to: its first folder ("" for a file at the top of staging/). */
    public static String jobOf(String stagedPath) {
        int slash = stagedPath.indexOf('/');
        return slash < 0 ? "" : stagedPath.substring(0, slash);
    }
}
