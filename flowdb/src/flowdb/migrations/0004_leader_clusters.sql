-- Hartigan leader clustering of one subscriber's points, for FlowMachine's meaningful locations.
--
-- The points come in clustering order. Each joins the first cluster, in creation order, whose centroid is less
-- than `radius` km away (great-circle distance on a sphere of radius 6371.0088 km, haversine), moving that
-- centroid to the weighted mean of its points; otherwise it starts a new cluster. One row per cluster: its
-- creation rank, total weight and centroid, and (the same on every row) the rank of the cluster each point
-- joined, in input order.
--
-- Procedural on purpose: each point depends on every cluster made before it, so a set-based version walks the
-- points one recursion step at a time and copies every array on each step (measured 1.7x slower overall).
CREATE OR REPLACE FUNCTION public.leader_clusters(
    point_lon float8[], point_lat float8[], point_weight float8[], radius float8)
RETURNS TABLE (rank int, weight float8, lon float8, lat float8, assignment int[])
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    c_lon float8[] := '{}';
    c_lat float8[] := '{}';
    c_weight float8[] := '{}';
    c_of int[] := '{}';
    n int := 0;
    found_at int;
    a float8;
BEGIN
    FOR i IN 1 .. coalesce(array_length(point_lon, 1), 0) LOOP
        found_at := NULL;
        FOR j IN 1 .. n LOOP
            a := sin(radians(point_lat[i] - c_lat[j]) / 2) ^ 2
                 + cos(radians(c_lat[j])) * cos(radians(point_lat[i]))
                   * sin(radians(point_lon[i] - c_lon[j]) / 2) ^ 2;
            IF 2 * 6371.0088 * asin(least(1::float8, sqrt(a))) < radius THEN
                found_at := j;
                EXIT;
            END IF;
        END LOOP;
        IF found_at IS NULL THEN
            n := n + 1;
            c_lon[n] := point_lon[i];
            c_lat[n] := point_lat[i];
            c_weight[n] := point_weight[i];
            c_of[i] := n;
        ELSE
            c_lon[found_at] := (c_lon[found_at] * c_weight[found_at] + point_lon[i] * point_weight[i])
                               / (c_weight[found_at] + point_weight[i]);
            c_lat[found_at] := (c_lat[found_at] * c_weight[found_at] + point_lat[i] * point_weight[i])
                               / (c_weight[found_at] + point_weight[i]);
            c_weight[found_at] := c_weight[found_at] + point_weight[i];
            c_of[i] := found_at;
        END IF;
    END LOOP;
    FOR j IN 1 .. n LOOP
        rank := j;
        weight := c_weight[j];
        lon := c_lon[j];
        lat := c_lat[j];
        assignment := c_of;
        RETURN NEXT;
    END LOOP;
END
$$;
