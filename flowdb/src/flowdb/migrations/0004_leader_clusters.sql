-- Hartigan leader clustering of one subscriber's points, for FlowMachine's meaningful locations.
--
-- `points` is a two-dimensional array, one row per point in clustering order: (lon, lat, weight) and optionally
-- two scores (a, b). Each point joins the first cluster, in creation order, whose centroid is less than `radius`
-- km away (great-circle distance on a sphere of radius 6371.0088 km, haversine), moving that centroid to the
-- weighted mean of its points; otherwise it starts a new cluster. One row per cluster: its creation rank, total
-- weight and centroid, the unweighted mean of its points' scores (NULL without scores), and (the same on every
-- row) the rank of the cluster each point joined, in input order.
--
-- Procedural on purpose: each point depends on every cluster made before it, so a set-based version walks the
-- points one recursion step at a time and copies every array on each step (measured 1.7x slower overall). One
-- two-dimensional array, rather than an array per column, lets the caller sort a subscriber's points once.
CREATE OR REPLACE FUNCTION public.leader_clusters(points float8[], radius float8)
RETURNS TABLE (rank int, weight float8, lon float8, lat float8, assignment int[], mean_a float8, mean_b float8)
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    c_lon float8[] := '{}';
    c_lat float8[] := '{}';
    c_weight float8[] := '{}';
    c_a float8[] := '{}';
    c_b float8[] := '{}';
    c_n int[] := '{}';
    c_of int[] := '{}';
    scored boolean := array_ndims(points) = 2 AND array_length(points, 2) >= 5;
    n int := 0;
    found_at int;
    a float8;
BEGIN
    IF array_ndims(points) IS DISTINCT FROM 2 OR array_length(points, 2) < 3 THEN
        RAISE EXCEPTION 'leader_clusters: points must be rows of (lon, lat, weight[, a, b])';
    END IF;
    FOR i IN 1 .. array_length(points, 1) LOOP
        found_at := NULL;
        FOR j IN 1 .. n LOOP
            a := sin(radians(points[i][2] - c_lat[j]) / 2) ^ 2
                 + cos(radians(c_lat[j])) * cos(radians(points[i][2]))
                   * sin(radians(points[i][1] - c_lon[j]) / 2) ^ 2;
            IF 2 * 6371.0088 * asin(least(1::float8, sqrt(a))) < radius THEN
                found_at := j;
                EXIT;
            END IF;
        END LOOP;
        IF found_at IS NULL THEN
            n := n + 1;
            c_lon[n] := points[i][1];
            c_lat[n] := points[i][2];
            c_weight[n] := points[i][3];
            IF scored THEN
                c_a[n] := points[i][4];
                c_b[n] := points[i][5];
            END IF;
            c_n[n] := 1;
            c_of[i] := n;
        ELSE
            c_lon[found_at] := (c_lon[found_at] * c_weight[found_at] + points[i][1] * points[i][3])
                               / (c_weight[found_at] + points[i][3]);
            c_lat[found_at] := (c_lat[found_at] * c_weight[found_at] + points[i][2] * points[i][3])
                               / (c_weight[found_at] + points[i][3]);
            c_weight[found_at] := c_weight[found_at] + points[i][3];
            IF scored THEN
                c_a[found_at] := c_a[found_at] + points[i][4];
                c_b[found_at] := c_b[found_at] + points[i][5];
            END IF;
            c_n[found_at] := c_n[found_at] + 1;
            c_of[i] := found_at;
        END IF;
    END LOOP;
    FOR j IN 1 .. n LOOP
        rank := j;
        weight := c_weight[j];
        lon := c_lon[j];
        lat := c_lat[j];
        assignment := c_of;
        mean_a := CASE WHEN scored THEN c_a[j] / c_n[j] END;
        mean_b := CASE WHEN scored THEN c_b[j] / c_n[j] END;
        RETURN NEXT;
    END LOOP;
END
$$;
