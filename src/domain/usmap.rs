//! Where a zipcode goes on the dashboard's map of the United States: the Albers equal-area projection US atlases
//! use for the lower 48 states, with Alaska, Hawaii and Puerto Rico (with the Virgin Islands) drawn as insets
//! below, in a fixed 960 × 540 frame. Pure arithmetic on coordinates, so the server sends positions and the page
//! only draws them.

/// The frame's size: the page's drawing is this box scaled.
pub const MAP_WIDTH: f64 = 960.0;
pub const MAP_HEIGHT: f64 = 540.0;

/// A position in the frame, `x` rightwards and `y` downwards.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MapPoint {
    pub x: f64,
    pub y: f64,
}

/// A conic equal-area projection (Albers) fitted into the frame: the point `center` (degrees, in the frame
/// turned by `rotate` degrees of longitude) lands on `translate`, and one radian spans `scale` units.
struct Albers {
    rotate: f64,
    n: f64,
    c: f64,
    r0: f64,
    scale: f64,
    dx: f64,
    dy: f64,
}

impl Albers {
    fn new(rotate: f64, center: (f64, f64), parallels: (f64, f64), scale: f64, translate: (f64, f64)) -> Self {
        let (sin0, sin1) = (parallels.0.to_radians().sin(), parallels.1.to_radians().sin());
        let n = (sin0 + sin1) / 2.0;
        let c = 1.0 + sin0 * (2.0 * n - sin0);
        let mut projection = Albers { rotate, n, c, r0: c.sqrt() / n, scale, dx: 0.0, dy: 0.0 };
        let (cx, cy) = projection.raw(center.0.to_radians(), center.1.to_radians());
        projection.dx = translate.0 - cx * scale;
        projection.dy = translate.1 + cy * scale;
        projection
    }

    fn raw(&self, lambda: f64, phi: f64) -> (f64, f64) {
        let r = (self.c - 2.0 * self.n * phi.sin()).max(0.0).sqrt() / self.n;
        let theta = lambda * self.n;
        (r * theta.sin(), self.r0 - r * theta.cos())
    }

    fn project(&self, lat: f64, lon: f64) -> MapPoint {
        let (x, y) = self.raw((lon + self.rotate).to_radians(), lat.to_radians());
        MapPoint { x: self.dx + x * self.scale, y: self.dy - y * self.scale }
    }
}

/// The scale and centre of the lower 48 in the frame; the insets are placed relative to them.
const SCALE: f64 = 1070.0;
const CENTER: (f64, f64) = (480.0, 260.0);

/// Which part of the map a coordinate belongs to, by the regions' bounding boxes (degrees).
fn region(lat: f64, lon: f64) -> Option<Albers> {
    let at = |dx: f64, dy: f64| (CENTER.0 + dx * SCALE, CENTER.1 + dy * SCALE);
    if (24.0..=50.0).contains(&lat) && (-125.0..=-66.0).contains(&lon) {
        Some(Albers::new(96.0, (-0.6, 38.7), (29.5, 45.5), SCALE, CENTER))
    } else if (51.0..=72.0).contains(&lat) && (-180.0..=-129.0).contains(&lon) {
        Some(Albers::new(154.0, (-2.0, 58.5), (55.0, 65.0), 0.35 * SCALE, at(-0.307, 0.201)))
    } else if (18.5..=22.5).contains(&lat) && (-161.0..=-154.0).contains(&lon) {
        Some(Albers::new(157.0, (-3.0, 19.9), (8.0, 18.0), SCALE, at(-0.205, 0.212)))
    } else if (17.5..=18.6).contains(&lat) && (-67.5..=-64.5).contains(&lon) {
        Some(Albers::new(66.0, (0.0, 18.1), (8.0, 18.0), SCALE, at(0.33, 0.265)))
    } else {
        None
    }
}

/// The zipcode at `lat`, `lon` on the map; `None` for places outside the drawn regions (Guam, military post
/// offices abroad).
pub fn project(lat: f64, lon: f64) -> Option<MapPoint> {
    if !lat.is_finite() || !lon.is_finite() {
        return None;
    }
    let point = region(lat, lon)?.project(lat, lon);
    let inside = (0.0..=MAP_WIDTH).contains(&point.x) && (0.0..=MAP_HEIGHT).contains(&point.y);
    inside.then_some(point)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(lat: f64, lon: f64) -> MapPoint {
        project(lat, lon).unwrap_or_else(|| panic!("{lat}, {lon} is on the map"))
    }

    #[test]
    fn cities_lie_where_a_reader_expects_them() {
        let (new_york, chicago, denver, los_angeles) =
            (at(40.75, -73.99), at(41.88, -87.63), at(39.74, -104.99), at(34.05, -118.24));
        let (seattle, miami, maine) = (at(47.61, -122.33), at(25.76, -80.19), at(44.8, -68.8));
        assert!(new_york.x > chicago.x && chicago.x > denver.x && denver.x > los_angeles.x);
        assert!(seattle.y < los_angeles.y && chicago.y < miami.y);
        // The lower 48 fill the frame's width without touching its edges.
        assert!(seattle.x > 120.0 && seattle.x < 200.0 && seattle.y > 20.0, "{seattle:?}");
        assert!(maine.x > 800.0 && maine.x < 900.0, "{maine:?}");
        assert!(miami.y > 440.0 && miami.y < 520.0, "{miami:?}");
    }

    #[test]
    fn alaska_hawaii_and_puerto_rico_are_insets_below_the_lower_48() {
        let (anchorage, honolulu, san_juan) = (at(61.22, -149.9), at(21.31, -157.86), at(18.47, -66.11));
        let (san_diego, miami) = (at(32.72, -117.16), at(25.76, -80.19));
        assert!(anchorage.x < 330.0 && anchorage.y > san_diego.y, "{anchorage:?}");
        assert!(honolulu.x > anchorage.x && honolulu.x < 400.0 && honolulu.y > san_diego.y, "{honolulu:?}");
        assert!(san_juan.x > miami.x && san_juan.y > miami.y, "{san_juan:?} {miami:?}");
        // Alaska's far west (the Aleutians' east end) and north still fit.
        assert!(project(71.29, -156.79).is_some() && project(54.0, -166.5).is_some());
    }

    #[test]
    fn places_outside_the_drawn_regions_have_no_position() {
        assert_eq!(project(13.44, 144.79), None, "Guam");
        assert_eq!(project(51.5, -0.12), None, "London");
        assert_eq!(project(f64::NAN, -100.0), None);
    }

    proptest! {
        #[test]
        fn every_position_lies_inside_the_frame(lat in -90.0f64..90.0, lon in -180.0f64..180.0) {
            if let Some(point) = project(lat, lon) {
                prop_assert!((0.0..=MAP_WIDTH).contains(&point.x) && (0.0..=MAP_HEIGHT).contains(&point.y));
            }
        }

        #[test]
        fn the_lower_48_are_all_drawn(lat in 25.0f64..49.0, lon in -124.5f64..-70.0) {
            prop_assert!(project(lat, lon).is_some());
        }
    }
}
