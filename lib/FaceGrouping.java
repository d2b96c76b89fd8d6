import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Groups the new faces of one ingest into would-be people (matching-and-merge.md, "Grouping the
 * new faces of one ingest"): two faces join when their distance is below the grouping
 * threshold, transitively (union-find).
 *
 * <p>Improvement over the earlier pipeline: two faces of the same photo are never put in one
 * group (one person is not twice in one photo). Pairs are joined closest first, so when such a
 * conflict arises the stronger resemblance wins, and the result does not depend on luck.
 */
public final class FaceGrouping {
    private FaceGrouping() {}

    /** Groups faces (each with its photo id) whose distance < threshold, transitively; returns groups of
     *  face ids in a deterministic order (first face's input order). */
    public static List<List<String>> group(List<EmbeddingStore.Face> faces, Map<String, String> faceToPhoto, double threshold) {
        int n = faces.size();
        if (n == 0) return List.of();
        int dims = faces.get(0).mu().length;
        float[] m = new float[n * dims];
        for (int i = 0; i < n; i++) System.arraycopy(faces.get(i).mu(), 0, m, i * dims, dims);

        // Candidate pairs (i<j) under the threshold, as parallel primitive arrays.
        int cap = 16, count = 0;
        int[] pi = new int[cap], pj = new int[cap];
        double[] pd = new double[cap];
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                double d = FaceDistances.euclidean(m, i * dims, m, j * dims, dims);
                if (d < threshold) {
                    if (count == cap) {
                        cap *= 2;
                        pi = Arrays.copyOf(pi, cap);
                        pj = Arrays.copyOf(pj, cap);
                        pd = Arrays.copyOf(pd, cap);
                    }
                    pi[count] = i;
                    pj[count] = j;
                    pd[count] = d;
                    count++;
                }
            }
        }
        Integer[] order = new Integer[count];
        for (int k = 0; k < count; k++) order[k] = k;
        final double[] dist = pd;
        final int[] fi = pi, fj = pj;
        Arrays.sort(order, (a, b) -> {
            int c = Double.compare(dist[a], dist[b]);
            if (c != 0) return c;
            c = Integer.compare(fi[a], fi[b]);
            return c != 0 ? c : Integer.compare(fj[a], fj[b]);
        });

        int[] parent = new int[n];
        List<Set<String>> photos = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            parent[i] = i;
            Set<String> s = new HashSet<>();
            // A face whose photo is unknown counts as alone in its own photo.
            String photo = faceToPhoto == null ? null : faceToPhoto.get(faces.get(i).faceId());
            s.add(photo != null ? "photo:" + photo : "face:" + faces.get(i).faceId());
            photos.add(s);
        }
        for (int k : order) {
            int a = find(parent, fi[k]), b = find(parent, fj[k]);
            if (a == b) continue;
            Set<String> pa = photos.get(a), pb = photos.get(b);
            if (!disjoint(pa, pb)) continue;
            // The smaller index stays root so the group's identity is stable.
            int root = Math.min(a, b), child = Math.max(a, b);
            parent[child] = root;
            photos.get(root).addAll(photos.get(child));
            photos.set(child, null);
        }

        Map<Integer, List<String>> groups = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            groups.computeIfAbsent(find(parent, i), r -> new ArrayList<>()).add(faces.get(i).faceId());
        }
        return new ArrayList<>(groups.values());
    }

    private static int find(int[] parent, int i) {
        while (parent[i] != i) {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        return i;
    }

    private static boolean disjoint(Set<String> a, Set<String> b) {
        Set<String> small = a.size() <= b.size() ? a : b, big = small == a ? b : a;
        for (String s : small) if (big.contains(s)) return false;
        return true;
    }
}
