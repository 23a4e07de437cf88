"""Demo data: a merchant with ~20 products, two hosts and a few scheduled shows."""

from __future__ import annotations

import colorsys
import io
import zlib
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from PIL import Image, ImageDraw
from sqlalchemy import func, select

from livecart.config import Settings
from livecart.db.engine import make_engine, make_session_factory
from livecart.db.uow import UnitOfWork
from livecart.features.accounts import service as accounts
from livecart.features.accounts.models import Role, User
from livecart.features.accounts.repository import AccountsRepository
from livecart.features.accounts.schemas import HostProfileIn, SignUpIn
from livecart.features.catalog import service as catalog
from livecart.features.catalog.repository import CatalogRepository
from livecart.features.catalog.schemas import ProductIn, VariantIn
from livecart.features.shows import service as shows
from livecart.features.shows.repository import ShowsRepository
from livecart.features.shows.rules import ShowAction
from livecart.features.shows.schemas import ShowIn
from livecart.kit.clock import utcnow
from livecart.kit.images import check_image
from livecart.kit.storage import Storage, storage_for

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - published demo credentials, printed on first start
MERCHANT_EMAIL = "shop@demo.livecart.dev"
HOST_EMAILS = ("lili@demo.livecart.dev", "ajie@demo.livecart.dev")
VIEWER_EMAIL = "viewer@demo.livecart.dev"
TOKEN_TTL = timedelta(days=1)

# title, category, base price, variant options
PRODUCTS: list[tuple[str, str, str, list[dict[str, str]]]] = [
    ("云南冰糖橙 5斤装 Yunnan sugar oranges", "food", "39.90", [{"规格": "5斤"}, {"规格": "10斤"}]),
    ("手工红糖姜茶 Brown sugar ginger tea", "food", "29.00", [{"口味": "原味"}, {"口味": "红枣"}]),
    ("高山乌龙茶 High-mountain oolong", "food", "128.00", [{"规格": "250g"}]),
    ("每日坚果 30包 Daily nuts", "food", "79.00", [{"规格": "30包"}]),
    ("保湿精华液 Hydrating serum", "beauty", "199.00", [{"容量": "30ml"}, {"容量": "50ml"}]),
    ("氨基酸洗面奶 Amino cleanser", "beauty", "59.00", [{"容量": "120g"}]),
    ("哑光口红 Matte lipstick", "beauty", "89.00", [{"色号": "#01 正红"}, {"色号": "#05 豆沙"}]),
    ("防晒喷雾 Sunscreen spray SPF50", "beauty", "69.00", [{"容量": "150ml"}]),
    (
        "纯棉宽松T恤 Cotton tee",
        "fashion",
        "49.00",
        [{"颜色": "白", "尺码": "M"}, {"颜色": "白", "尺码": "L"}, {"颜色": "黑", "尺码": "M"}],
    ),
    ("高腰直筒牛仔裤 High-waist jeans", "fashion", "139.00", [{"尺码": "27"}, {"尺码": "29"}]),
    ("羊毛围巾 Wool scarf", "fashion", "159.00", [{"颜色": "驼色"}, {"颜色": "灰色"}]),
    ("帆布托特包 Canvas tote", "fashion", "79.00", [{"颜色": "米白"}]),
    ("无线蓝牙耳机 Wireless earbuds", "electronics", "249.00", [{"颜色": "白"}, {"颜色": "黑"}]),
    ("20000mAh 充电宝 Power bank", "electronics", "119.00", [{"颜色": "灰"}]),
    ("桌面补光灯 Desk ring light", "electronics", "89.00", [{"尺寸": "10寸"}]),
    ("陶瓷马克杯 Ceramic mug", "home", "39.00", [{"颜色": "奶白"}, {"颜色": "雾蓝"}]),
    ("乳胶枕 Latex pillow", "home", "169.00", [{"规格": "标准"}]),
    ("香薰蜡烛 Scented candle", "home", "59.00", [{"香型": "白茶"}, {"香型": "雪松"}]),
    ("儿童绘本套装 Picture books for kids", "kids", "99.00", [{"册数": "10册"}]),
    ("瑜伽垫 Yoga mat 6mm", "sports", "89.00", [{"颜色": "紫"}, {"颜色": "绿"}]),
]


@dataclass(frozen=True, slots=True)
class DemoSummary:
    created: bool
    products: int
    shows: int


def product_picture(title: str) -> bytes:
    """A soft two-colour square with the product's initial, so the demo needs no downloads."""
    hue = (zlib.crc32(title.encode()) % 360) / 360
    top = tuple(int(c * 255) for c in colorsys.hls_to_rgb(hue, 0.80, 0.55))
    bottom = tuple(int(c * 255) for c in colorsys.hls_to_rgb((hue + 0.08) % 1, 0.62, 0.60))
    size = 480
    img = Image.new("RGB", (size, size), top)
    draw = ImageDraw.Draw(img)
    for y in range(size):
        t = y / size
        draw.line(
            [(0, y), (size, y)],
            fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)),
        )
    draw.ellipse([140, 140, 340, 340], fill=(255, 255, 255))
    draw.text(
        (size // 2, size // 2),
        title.split(" ")[-1][:1].upper(),
        fill=bottom,
        anchor="mm",
        font_size=120,
    )
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=82)
    return out.getvalue()


async def seed_demo(settings: Settings) -> DemoSummary:
    """Create the demo data unless the database already has users."""
    engine = make_engine(settings.resolved_database_url)
    factory = make_session_factory(engine)
    storage = storage_for(settings)
    try:
        async with UnitOfWork(factory) as uow:
            if await uow.session.scalar(select(func.count()).select_from(User)):
                return DemoSummary(created=False, products=0, shows=0)
            return await _seed(uow, settings, storage)
    finally:
        await engine.dispose()


async def _seed(uow: UnitOfWork, settings: Settings, storage: Storage) -> DemoSummary:
    repo = AccountsRepository(uow.session)
    merchant = (
        await accounts.sign_up(
            repo,
            SignUpIn(
                email=MERCHANT_EMAIL,
                password=DEMO_PASSWORD,
                display_name="小鹿 Xiaolu",
                role="merchant",
                merchant_name="小鹿好物 Deer Goods",
            ),
            ttl=TOKEN_TTL,
        )
    ).user
    hosts: list[User] = []
    bios = (
        "美妆护肤与生活好物，每晚八点见 · Beauty and home picks, 8 pm nightly",
        "水果产地直发，数码测评 · Fruit from the farm, gadgets tested",
    )
    for email, name, bio, cats in zip(
        HOST_EMAILS,
        ("莉莉 Lili", "阿杰 Ajie"),
        bios,
        (["beauty", "home"], ["food", "electronics"]),
        strict=True,
    ):
        host = await accounts.create_user(
            repo, email=email, password=DEMO_PASSWORD, display_name=name, role=Role.HOST
        )
        await accounts.update_host_profile(repo, host, HostProfileIn(bio=bio, categories=cats))
        hosts.append(host)
    await accounts.link_host_to_merchant(repo, merchant, HOST_EMAILS[0])
    viewer = await accounts.create_user(
        repo,
        email=VIEWER_EMAIL,
        password=DEMO_PASSWORD,
        display_name="小王 Xiao Wang",
        role=Role.VIEWER,
    )
    await accounts.set_following(repo, viewer, hosts[0].id, follow=True)

    catalog_repo = CatalogRepository(uow.session)
    product_ids: list[int] = []
    for n, (title, category, price, options) in enumerate(PRODUCTS):
        variants = [
            VariantIn(
                sku=f"DG{n:02d}-{i}",
                options=opt,
                price=Decimal(price) + 10 * i,
                list_price=(Decimal(price) + 10 * i) * Decimal("1.5"),
                stock=50 + 37 * i,
            )
            for i, opt in enumerate(options)
        ]
        product = await catalog.create_product(
            catalog_repo,
            merchant,
            ProductIn(
                title=title,
                description=f"{title} — 小鹿好物精选 · hand-picked by Deer Goods.",
                category=category,
                open_to_hosts=n % 3 != 2,
                variants=variants,
            ),
        )
        image = check_image(product_picture(title), max_bytes=settings.max_upload_bytes)
        await catalog.add_image(catalog_repo, merchant, product.id, image, storage)
        product_ids.append(product.id)

    ctx = shows.ShowsContext(ShowsRepository(uow.session))
    now = utcnow()
    plans = [
        (hosts[0], "今晚美妆专场 · Beauty night", now + timedelta(hours=2), product_ids[4:8]),
        (
            hosts[0],
            "居家好物清单 · Home favourites",
            now + timedelta(days=1, hours=3),
            product_ids[15:18],
        ),
        # The second host is not the merchant's own: only products open to hosts (n % 3 != 2).
        (
            hosts[1],
            "产地直发水果节 · Fruit festival",
            now + timedelta(hours=5),
            [product_ids[i] for i in (0, 1, 3)],
        ),
        (hosts[1], "数码新品测评 · Gadget review", now + timedelta(days=2), product_ids[12:14]),
        (
            hosts[1],
            "周末早市 · Weekend market",
            now - timedelta(minutes=3),
            [product_ids[i] for i in (1, 13, 16)],
        ),
    ]
    created = []
    for host, title, start, lineup in plans:
        show, _key = await shows.schedule_show(
            ctx,
            host,
            ShowIn(
                title=title,
                planned_start=start,
                product_ids=lineup,
                description="直播间专享价，记得点「提醒我」· Show-only prices: tap Remind me.",
            ),
        )
        created.append(show)
    await shows.transition(ctx, hosts[1], created[-1].id, ShowAction.GO_LIVE)
    await shows.set_reminder(ctx, viewer, created[0].id, on=True)
    return DemoSummary(created=True, products=len(product_ids), shows=len(created))
