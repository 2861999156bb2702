"""The demo business on paper: six warehouses, two channels and a linens catalogue.

Plain specifications; demo.loading creates the rows from them (by natural key, never
overwriting), and demo.history plans 90 days of stock from their demand figures.
"""

from dataclasses import dataclass

from stock.models import Variant
from warehouses.models import SalesChannel


@dataclass(frozen=True)
class WarehouseSpec:
    code: str
    name: str
    address: str
    latitude: str
    longitude: str
    timezone: str
    lead_time_days: int
    daily_dispatch_capacity: int
    demand: float  # share of a product's demand this warehouse serves
    supplier_lead_days: int  # purchase order to receipt
    carries_california_king: bool = True
    colours_carried: int = 5  # each product's best-selling colours that it stocks


WAREHOUSES = [
    WarehouseSpec(
        code="BAL",
        name="Baltimore fulfilment centre",
        address="2800 Broening Highway, Baltimore, MD 21222, USA",
        latitude="39.255700",
        longitude="-76.538300",
        timezone="America/New_York",
        lead_time_days=2,
        daily_dispatch_capacity=1200,
        demand=1.0,
        supplier_lead_days=10,
    ),
    WarehouseSpec(
        code="AUS",
        name="Austin fulfilment centre",
        address="4100 Smith School Road, Austin, TX 78744, USA",
        latitude="30.206000",
        longitude="-97.720600",
        timezone="America/Chicago",
        lead_time_days=3,
        daily_dispatch_capacity=900,
        demand=0.7,
        supplier_lead_days=12,
    ),
    WarehouseSpec(
        code="RNO",
        name="Reno fulfilment centre",
        address="4800 Longley Lane, Reno, NV 89502, USA",
        latitude="39.478000",
        longitude="-119.776000",
        timezone="America/Los_Angeles",
        lead_time_days=4,
        daily_dispatch_capacity=800,
        demand=0.45,
        supplier_lead_days=12,
    ),
    WarehouseSpec(
        code="BER",
        name="Berlin fulfilment centre",
        address="Lahnstraße 30, 12055 Berlin, Germany",
        latitude="52.467700",
        longitude="13.448500",
        timezone="Europe/Berlin",
        lead_time_days=2,
        daily_dispatch_capacity=700,
        demand=0.55,
        supplier_lead_days=14,
        carries_california_king=False,
        colours_carried=3,
    ),
    WarehouseSpec(
        code="FRA",
        name="Frankfurt fulfilment centre",
        address="Cargo City Süd, Gebäude 558, 60549 Frankfurt am Main, Germany",
        latitude="50.037900",
        longitude="8.562200",
        timezone="Europe/Berlin",
        lead_time_days=2,
        daily_dispatch_capacity=600,
        demand=0.4,
        supplier_lead_days=14,
        carries_california_king=False,
        colours_carried=3,
    ),
    # The head office keeps a few units of everything for the showroom and ships as a last
    # resort on both continents.
    WarehouseSpec(
        code="HQ",
        name="Head office and showroom",
        address="63 Flushing Avenue, Building 3, Brooklyn, NY 11205, USA",
        latitude="40.700400",
        longitude="-73.971200",
        timezone="America/New_York",
        lead_time_days=5,
        daily_dispatch_capacity=40,
        demand=0.04,
        supplier_lead_days=7,
        colours_carried=1,
    ),
]


@dataclass(frozen=True)
class ChannelSpec:
    code: str
    name: str
    kind: str
    safety_buffer: int
    links: tuple[tuple[str, int], ...]  # (warehouse code, priority)


CHANNELS = [
    ChannelSpec(
        "north-america",
        "North America",
        SalesChannel.Kind.MAGENTO,
        2,
        (("BAL", 1), ("AUS", 2), ("RNO", 3), ("HQ", 4)),
    ),
    ChannelSpec(
        "europe",
        "Europe",
        SalesChannel.Kind.WOOCOMMERCE,
        1,
        (("BER", 1), ("FRA", 2), ("HQ", 3)),
    ),
]

BED_SIZES = {"T": "twin", "F": "full", "Q": "queen", "K": "king", "CK": "california king"}
CASE_SIZES = {"STD": "standard", "K": "king"}
BLANKET_SIZES = {"T": "twin", "FQ": "full/queen", "K": "king"}
SIZE_DEMAND = {
    "twin": 0.25,
    "full": 0.35,
    "queen": 1.0,
    "king": 0.6,
    "california king": 0.12,
    "standard": 1.0,
    "full/queen": 1.0,
}
# The first colour of a product sells best; each next one a little less.
COLOUR_DEMAND = (1.0, 0.55, 0.35, 0.2, 0.12)


@dataclass(frozen=True)
class ProductSpec:
    code: str
    name: str
    description: str
    material: str
    sizes: dict[str, str]
    colours: dict[str, str]
    demand: float  # units a day of the best size and colour at the busiest warehouse
    low_stock_threshold: int = 5
    backorder_colours: frozenset[str] = frozenset()
    discontinued_colours: frozenset[str] = frozenset()
    is_seasonal: bool = False  # demand grows through the 90 days (flannel in autumn)
    manage_stock: bool = True


PRODUCTS = [
    ProductSpec(
        "PCL-SHEET",
        "Percale sheet set",
        "Crisp 300-thread-count cotton percale: flat sheet, fitted sheet, two pillowcases.",
        "cotton percale",
        BED_SIZES,
        {"WHT": "white", "IVR": "ivory", "SGE": "sage", "SLT": "slate", "NVY": "navy"},
        1.5,
    ),
    ProductSpec(
        "STN-SHEET",
        "Sateen sheet set",
        "Silky 400-thread-count cotton sateen with a soft sheen.",
        "cotton sateen",
        BED_SIZES,
        {"WHT": "white", "IVR": "ivory", "CHR": "charcoal", "BLS": "blush", "MDN": "midnight"},
        1.25,
        discontinued_colours=frozenset({"BLS"}),
    ),
    ProductSpec(
        "LIN-DUVET",
        "Linen duvet cover",
        "Stonewashed European flax linen duvet cover with coconut-shell buttons.",
        "linen",
        BED_SIZES,
        {"NAT": "natural", "WHT": "white", "TRC": "terracotta", "OLV": "olive", "STN": "stone"},
        0.6,
        backorder_colours=frozenset({"TRC"}),
    ),
    ProductSpec(
        "FLN-CASE",
        "Flannel pillowcases",
        "A pair of brushed cotton flannel pillowcases.",
        "cotton flannel",
        CASE_SIZES,
        {"RPL": "red plaid", "GRY": "grey heather", "CRM": "cream", "FST": "forest"},
        0.5,
        low_stock_threshold=8,
        is_seasonal=True,
    ),
    ProductSpec(
        "BMB-SHEET",
        "Bamboo sheet set",
        "Cool, breathable sheets woven from bamboo lyocell.",
        "bamboo lyocell",
        BED_SIZES,
        {"WHT": "white", "SND": "sand", "SKY": "sky", "GRP": "graphite"},
        0.75,
    ),
    ProductSpec(
        "LIN-SHEET",
        "Linen sheet set",
        "Stonewashed linen flat sheet, fitted sheet and pillowcases.",
        "linen",
        BED_SIZES,
        {"NAT": "natural", "WHT": "white", "TRC": "terracotta", "OLV": "olive", "STN": "stone"},
        0.75,
        backorder_colours=frozenset({"OLV"}),
    ),
    ProductSpec(
        "STN-DUVET",
        "Sateen duvet cover",
        "Cotton sateen duvet cover with a hidden zip closure.",
        "cotton sateen",
        BED_SIZES,
        {"WHT": "white", "IVR": "ivory", "CHR": "charcoal", "MDN": "midnight"},
        0.5,
    ),
    ProductSpec(
        "PCL-CASE",
        "Percale pillowcases",
        "A pair of cotton percale pillowcases with an envelope closure.",
        "cotton percale",
        CASE_SIZES,
        {"WHT": "white", "IVR": "ivory", "SGE": "sage", "SLT": "slate", "NVY": "navy"},
        0.75,
        low_stock_threshold=8,
    ),
    ProductSpec(
        "LIN-CASE",
        "Linen pillowcases",
        "A pair of stonewashed linen pillowcases.",
        "linen",
        CASE_SIZES,
        {"NAT": "natural", "WHT": "white", "TRC": "terracotta", "OLV": "olive", "STN": "stone"},
        0.5,
        low_stock_threshold=8,
    ),
    ProductSpec(
        "FLN-SHEET",
        "Flannel sheet set",
        "Brushed six-ounce cotton flannel sheets for cold nights.",
        "cotton flannel",
        BED_SIZES,
        {"RPL": "red plaid", "GRY": "grey heather", "CRM": "cream", "FST": "forest"},
        0.6,
        is_seasonal=True,
    ),
    ProductSpec(
        "WFL-BLNKT",
        "Waffle blanket",
        "A light cotton waffle-weave blanket for all seasons.",
        "cotton waffle",
        BLANKET_SIZES,
        {"WHT": "white", "OAT": "oatmeal", "SGE": "sage", "CLY": "clay"},
        0.4,
    ),
    ProductSpec(
        "DAC-COMF",
        "Down-alternative comforter",
        "Hypoallergenic microfibre fill, baffle-box stitched.",
        "microfibre",
        BLANKET_SIZES,
        {"WHT": "white"},
        0.5,
    ),
    ProductSpec(
        "MAT-PROT",
        "Mattress protector",
        "Waterproof cotton terry mattress protector with deep pockets.",
        "cotton terry",
        BED_SIZES,
        {"WHT": "white"},
        0.75,
    ),
    ProductSpec(
        "MNG-CASE",
        "Monogrammed pillowcases (made to order)",
        "Percale pillowcases embroidered with your initials; sewn after you order.",
        "cotton percale",
        CASE_SIZES,
        {"WHT": "white", "IVR": "ivory"},
        0,
        manage_stock=False,
    ),
]


@dataclass
class DemoVariant:
    variant: Variant
    spec: ProductSpec
    colour_rank: int
    size: str
    colour_code: str
