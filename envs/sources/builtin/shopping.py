"""Text data of the built-in ``shopping`` domain: 15 departments of an online store.

Cost is the price in dollars: log-normal per department (a phone case is cheap, a sofa is not),
ending in .99 or .49 like real price tags. Listings never state ratings, so quality stays hidden.
"""

from __future__ import annotations

import re
from dataclasses import replace

from .spec import CategorySpec, DomainSpec

_C = CategorySpec

_RAW_CATEGORIES = (
    _C(
        name="Electronics",
        interests=("consumer electronics", "headphones and audio gear", "smart home gadgets"),
        slots={
            "product": ("wireless earbuds", "a Bluetooth speaker", "a 27-inch 4K monitor",
                        "noise-cancelling headphones", "a portable power bank",
                        "a smart home hub", "a USB-C charging station", "a streaming stick",
                        "a mechanical keyboard", "a wireless mouse", "a dash cam",
                        "a mesh Wi-Fi system", "a soundbar", "a webcam"),
            "feature": ("40-hour battery life", "fast charging", "Bluetooth 5.3",
                        "active noise cancellation", "HDR support", "voice assistant support",
                        "a compact design", "low-latency audio", "multi-device pairing"),
            "brand": ("Sony", "Anker", "JBL", "Logitech", "Samsung", "Bose", "TP-Link"),
        },
        titles=("{Brand} {Product} with {Feature}", "{Product} - {Feature}, Black",
                "{Brand} {Product}, {Feature}", "{Product} ({Feature}) by {Brand}",
                "Upgraded {Product} with {Feature} and USB-C"),
        descriptions=(("{product} from {brand} with {feature} and {feature2}; works with "
                      "phones, laptops and tablets."),
                      "This {product} offers {feature} for music, calls and streaming.",
                      ("Electronics essential: {product} featuring {feature}, includes charging "
                      "cable."),
                      "{brand}'s {product} pairs {feature} with {feature2} in a sleek housing."),
        tags=("electronics", "gadgets", "audio", "wireless", "bluetooth", "tech",
              "accessories", "smart home"),
        cost=(60.0, 0.7, 9.0, 600.0),
    ),
    _C(
        name="Kitchen",
        interests=("kitchen gadgets and cookware", "coffee makers", "baking supplies"),
        slots={
            "product": ("a nonstick frying pan", "a cast iron skillet", "an air fryer",
                        "a chef's knife", "a stand mixer", "a pour-over coffee set",
                        "an espresso machine", "a blender", "a set of mixing bowls",
                        "a Dutch oven", "a rice cooker", "a bamboo cutting board",
                        "a stainless steel saucepan", "a spice rack"),
            "material": ("stainless steel", "enameled cast iron", "ceramic-coated",
                         "BPA-free", "carbon steel", "tempered glass"),
            "use": ("everyday cooking", "meal prep", "baking bread", "searing steak",
                    "morning coffee", "stir-fries", "soups and stews"),
        },
        titles=("{Material} {Product} for {Use}", "{Product}, {Material}, Dishwasher Safe",
                "Professional {Product} for Home Kitchens", "{Product} - Perfect for {Use}",
                "{Product} with Lid, {Material}"),
        descriptions=("{product} made of {material} for {use}; oven safe and easy to clean.",
                      ("A kitchen essential for {use}: {product} with even heat and a "
                      "comfortable handle."),
                      "Cookware for home chefs: {product}, {material}, dishwasher safe.",
                      "Make {use} easier with {product}; a thoughtful gift for home cooks."),
        tags=("kitchen", "cookware", "cooking", "home chef", "baking", "coffee", "kitchenware",
              "dishwasher safe"),
        cost=(40.0, 0.7, 8.0, 500.0),
    ),
    _C(
        name="Home Decor",
        interests=("home decor", "interior design accents", "cozy bedroom decor"),
        slots={
            "product": ("a linen throw pillow", "a ceramic vase", "a macrame wall hanging",
                        "blackout curtains", "a jute area rug", "a round wall mirror",
                        "scented soy candles", "a framed botanical print", "fairy string lights",
                        "a chunky knit blanket", "a rattan basket", "an arched floor lamp",
                        "faux eucalyptus stems"),
            "style": ("boho", "mid-century modern", "farmhouse", "Scandinavian", "minimalist",
                      "coastal", "Japandi"),
            "room": ("the living room", "the bedroom", "the entryway", "a nursery",
                     "a home office", "the patio"),
        },
        titles=("{Style} {Product} for {Room}", "{Product}, {Style} Home Decor",
                "{Product} - Neutral {Style} Accent", "Set of 2: {Product}",
                "Handmade {Product} in a {Style} Style"),
        descriptions=("Add warmth to {room} with {product} in a {style} style.",
                      ("Home decor accent: {product}, designed for {style} interiors and "
                      "{room}."),
                      ("This {product} brings a cozy {style} touch to {room}; makes a lovely "
                      "housewarming gift."),
                      ("Refresh {room} with {product}, neutral colors that match any {style} "
                      "decor.")),
        tags=("home decor", "interior design", "decoration", "cozy", "living room",
              "bedroom", "housewarming gift"),
        cost=(35.0, 0.7, 6.0, 400.0),
    ),
    _C(
        name="Furniture",
        interests=("furniture shopping", "home office furniture", "living room furniture"),
        slots={
            "product": ("a three-seat sofa", "an ergonomic office chair", "a standing desk",
                        "a solid wood dining table", "a queen bed frame", "a bookshelf",
                        "a TV stand", "an accent armchair", "a storage ottoman",
                        "a nightstand with drawers", "a sectional couch", "a bar stool set",
                        "a dresser"),
            "material": ("solid oak", "walnut veneer", "velvet upholstery", "metal and wood",
                         "performance fabric", "rattan", "leather"),
            "detail": ("easy assembly", "hidden storage", "adjustable height",
                       "lumbar support", "soft-close drawers", "a 10-year warranty"),
        },
        titles=("{Product} in {Material}", "{Material} {Product} with {Detail}",
                "Modern {Product}, {Material}", "{Product} - {Detail}",
                "{Product} for Small Spaces, {Material}"),
        descriptions=("Sturdy furniture: {product} built from {material}, with {detail}.",
                      "This {product} combines {material} and {detail}; ships flat-packed.",
                      ("{product} for the home or office, featuring {detail} and {material} "
                      "construction."),
                      "Comfortable, durable {product}; {detail} and a clean modern silhouette."),
        tags=("furniture", "home office", "living room", "bedroom", "seating", "storage",
              "assembly required"),
        cost=(280.0, 0.65, 40.0, 3000.0),
    ),
    _C(
        name="Clothing",
        interests=("fashion and clothing", "casual everyday outfits", "outerwear and jackets"),
        slots={
            "product": ("a crewneck sweater", "slim-fit jeans", "a linen button-down shirt",
                        "a puffer jacket", "a wrap dress", "a hoodie", "chino pants",
                        "a wool overcoat", "a graphic tee", "a pleated midi skirt",
                        "a denim jacket", "a flannel shirt", "a rain jacket"),
            "fabric": ("organic cotton", "merino wool", "recycled polyester", "linen",
                       "stretch denim", "cashmere blend", "fleece"),
            "fit": ("relaxed fit", "slim fit", "oversized fit", "regular fit", "cropped fit"),
            "who": ("Women's", "Men's", "Unisex"),
        },
        titles=("{Who} {Product}, {Fabric}", "{Who} {Product} - {Fit}",
                "{Product} in {Fabric}, {Fit}", "Classic {Product} for {Who2} Wardrobes",
                "{Who} {Fabric} {Product}"),
        descriptions=("A wardrobe staple: {product} in soft {fabric}, cut in a {fit}.",
                      ("{product} made from {fabric}; machine washable, available in six "
                      "colors and sizes XS-XXL."),
                      "Dress it up or down: this {fit} {product} pairs with sneakers or boots.",
                      "Everyday fashion: {product} with a {fit}, breathable {fabric}."),
        tags=("clothing", "fashion", "apparel", "outfit", "casual wear", "style", "wardrobe"),
        cost=(45.0, 0.6, 10.0, 350.0),
    ),
    _C(
        name="Shoes",
        interests=("sneakers and shoes", "running shoes", "hiking boots"),
        slots={
            "product": ("running shoes", "leather sneakers", "hiking boots", "Chelsea boots",
                        "slip-on loafers", "trail runners", "canvas high-tops",
                        "platform sandals", "waterproof rain boots", "suede desert boots",
                        "slides", "walking shoes", "ankle boots"),
            "sole": ("cushioned midsole", "grippy rubber outsole", "arch support",
                     "memory foam insole", "lightweight foam sole", "Vibram sole"),
            "brand": ("Nike", "Adidas", "New Balance", "Dr. Martens", "Salomon", "Vans",
                      "Birkenstock", "Clarks"),
        },
        titles=("{Brand} {Product} with {Sole}", "Men's {Product} - {Sole}",
                "Women's {Product}, {Sole}", "{Product} by {Brand}, Wide Width Available",
                "Lightweight {Product} with {Sole}"),
        descriptions=(("Comfortable footwear: {product} from {brand} with a {sole} for all-day "
                      "wear."),
                      "These {product} feature a {sole} and breathable upper; true to size.",
                      ("Step out in {product} with a {sole}, built for walking, running or "
                      "travel."),
                      "Durable {product}; {sole} and a cushioned heel keep your feet happy."),
        tags=("shoes", "footwear", "sneakers", "boots", "running", "comfort", "walking"),
        cost=(85.0, 0.5, 20.0, 300.0),
    ),
    _C(
        name="Beauty",
        interests=("skincare and beauty products", "makeup", "hair care"),
        slots={
            "product": ("a hyaluronic acid serum", "a mineral sunscreen SPF 50",
                        "a retinol night cream", "a matte liquid lipstick",
                        "a volumizing mascara", "a gentle foaming cleanser",
                        "an argan oil hair mask", "a vitamin C brightening serum",
                        "an eyeshadow palette", "a tinted moisturizer", "a dry shampoo",
                        "a clay face mask", "a lip balm set"),
            "skin": ("dry skin", "oily skin", "sensitive skin", "all skin types",
                     "curly hair", "color-treated hair", "acne-prone skin"),
            "claim": ("fragrance-free", "cruelty-free", "dermatologist tested", "vegan",
                      "paraben-free", "non-comedogenic"),
        },
        titles=("{Product} for {Skin}", "{Product}, {Claim}", "{Claim} {Product} - 1 fl oz",
                "{Product} for {Skin}, {Claim}", "Travel-Size {Product}"),
        descriptions=("A skincare favorite: {product}, {claim} and gentle on {skin}.",
                      "{product} formulated for {skin}; {claim}, apply morning and night.",
                      "Beauty routine essential: {product} hydrates and nourishes; {claim}.",
                      "Glow up with {product}, made for {skin} and {claim}."),
        tags=("beauty", "skincare", "makeup", "hair care", "cosmetics", "self care",
              "personal care"),
        cost=(22.0, 0.6, 5.0, 150.0),
    ),
    _C(
        name="Toys",
        interests=("toys and games for kids", "board games", "LEGO and building sets"),
        slots={
            "product": ("a LEGO city building set", "a wooden train set", "a family board game",
                        "a remote control car", "a plush teddy bear", "a magnetic tile set",
                        "a dollhouse", "a STEM robotics kit", "a 1000-piece jigsaw puzzle",
                        "a card game for game night", "play-dough", "a kids' art easel",
                        "a marble run"),
            "age": ("ages 3 and up", "ages 6-10", "toddlers", "ages 8+", "the whole family",
                    "teens and adults"),
            "benefit": ("creative play", "fine motor skills", "screen-free fun",
                        "problem solving", "STEM learning", "imaginative play"),
        },
        titles=("{Product} for {Age}", "{Product} - Great Gift for {Age}",
                "{Product}: {Benefit} for Kids", "Educational {Product}, {Age}",
                "{Product} with Storage Box"),
        descriptions=("Hours of {benefit}: {product} designed for {age}.",
                      "A fun toy for {age}; {product} encourages {benefit}.",
                      ("Game night and playtime favorite: {product}, perfect for birthdays and "
                      "holidays."),
                      "{product} for {age} builds {benefit} with safe, non-toxic materials."),
        tags=("toys", "kids", "games", "gift", "educational", "board games", "family",
              "playtime"),
        cost=(30.0, 0.6, 6.0, 250.0),
    ),
    _C(
        name="Books",
        interests=("books and novels", "mystery and thriller novels", "nonfiction books"),
        slots={
            "book": ("a psychological thriller", "an epic fantasy novel", "a cozy mystery",
                     "a historical novel", "a science fiction trilogy", "a memoir",
                     "a self-help book", "a cookbook", "a graphic novel", "a romance novel",
                     "a biography of a president", "a popular science book",
                     "a short story collection", "a poetry collection"),
            "theme": ("a family secret", "a small coastal town", "a dragon war",
                      "a detective's last case", "life after loss", "building better habits",
                      "the history of money", "a journey across space", "first love",
                      "a mystery on a train"),
            "edition": ("Paperback", "Hardcover", "Kindle Edition", "Audiobook",
                        "Large Print"),
        },
        titles=("{Book} About {Theme} ({Edition})", "{Edition}: {Book} of {Theme}",
                "The Bestselling {Book} on {Theme}", "{Book} - {Edition}",
                "A Novel of {Theme}: {Book}"),
        descriptions=("A gripping read: {book} about {theme}, from an award-winning author.",
                      ("This {book} explores {theme}; readers and critics call it "
                      "unputdownable."),
                      "{edition} of {book} centered on {theme}, with a new afterword.",
                      "For fans of page-turners: {book}, a story of {theme}."),
        tags=("books", "reading", "novel", "fiction", "nonfiction", "bestseller", "literature",
              "book club"),
        cost=(16.0, 0.4, 4.0, 60.0),
    ),
    _C(
        name="Sports & Outdoors",
        interests=("camping and hiking gear", "outdoor sports equipment", "cycling gear"),
        slots={
            "product": ("a two-person camping tent", "a down sleeping bag", "trekking poles",
                        "a hydration backpack", "a yoga mat", "adjustable dumbbells",
                        "a mountain bike helmet", "a camping stove", "a kayak paddle",
                        "an insulated water bottle", "a fishing rod", "a resistance band set",
                        "a headlamp"),
            "activity": ("backpacking", "car camping", "trail running", "home workouts",
                         "mountain biking", "fishing trips", "day hikes", "kayaking"),
            "spec": ("ultralight", "waterproof", "packable", "all-season", "heavy-duty",
                     "quick-dry"),
        },
        titles=("{Spec} {Product} for {Activity}", "{Product} - {Spec}, Outdoor Gear",
                "{Product} for {Activity} and Travel", "Outdoor {Product}, {Spec}",
                "{Spec} {Product} with Carry Bag"),
        descriptions=("Outdoor gear for {activity}: {product}, {spec} and built to last.",
                      "Take this {spec} {product} on your next {activity} adventure.",
                      "{product} for camping, hiking and {activity}; sets up in minutes.",
                      "Trail-tested {product}: {spec}, compact and ready for {activity}."),
        tags=("outdoors", "camping", "hiking", "sports", "fitness", "adventure", "gear",
              "travel"),
        cost=(45.0, 0.7, 8.0, 500.0),
    ),
    _C(
        name="Pet Supplies",
        interests=("pet supplies", "dog food and treats", "cat toys and litter"),
        slots={
            "product": ("grain-free dog food", "a clumping cat litter", "an orthopedic dog bed",
                        "a cat scratching post", "a no-pull dog harness", "dental chews",
                        "an automatic pet feeder", "a cat tree", "a retractable leash",
                        "salmon cat treats", "a squeaky chew toy", "a pet grooming brush",
                        "a fish tank filter"),
            "pet": ("small dogs", "large breed dogs", "indoor cats", "puppies", "senior dogs",
                    "kittens", "multi-cat homes"),
            "benefit": ("healthy digestion", "odor control", "joint support", "easy cleanup",
                        "calm walks", "clean teeth"),
        },
        titles=("{Product} for {Pet}", "{Product} - {Benefit}", ("{Product} for {Pet}, "
                "{Benefit}"), "Vet-Recommended {Product}", "{Product}, Value Pack"),
        descriptions=("Pet supplies for {pet}: {product} supports {benefit}.",
                      ("Your dog or cat will love {product}; designed for {pet} with "
                      "{benefit}."),
                      "{product} made for {pet}, vet recommended for {benefit}.",
                      "Keep {pet} happy with {product}: {benefit} and durable materials."),
        tags=("pet supplies", "dogs", "cats", "pet care", "pet food", "puppy", "kitten"),
        cost=(25.0, 0.6, 5.0, 200.0),
    ),
    _C(
        name="Baby",
        interests=("baby gear and nursery items", "products for new parents",
                   "toddler essentials"),
        slots={
            "product": ("a convertible car seat", "a lightweight stroller", "a baby monitor",
                        "organic cotton onesies", "a diaper bag backpack", "a high chair",
                        "a swaddle blanket set", "a bottle warmer", "a baby carrier",
                        "a crib mattress", "a teething toy set", "a playmat", "baby wipes"),
            "stage": ("newborns", "infants 0-12 months", "toddlers", "new parents",
                      "twins"),
            "feature": ("one-hand fold", "a machine-washable cover", "night vision",
                        "hypoallergenic materials", "five-point harness", "easy cleanup"),
        },
        titles=("{Product} for {Stage}", "{Product} with {Feature}", ("{Product} - Baby "
                "Registry Favorite"), "{Product} for {Stage}, {Feature}",
                "Newborn Essentials: {Product}"),
        descriptions=("Baby gear for {stage}: {product} with {feature}, safety certified.",
                      "A must-have for new parents: {product}, gentle for {stage}.",
                      "{product} featuring {feature}; a top pick for nursery and travel.",
                      "Parents love this {product} for {stage}: {feature} and soft fabrics."),
        tags=("baby", "nursery", "newborn", "parenting", "toddler", "baby registry", "infant"),
        cost=(60.0, 0.7, 8.0, 600.0),
    ),
    _C(
        name="Garden & Tools",
        interests=("gardening supplies", "power tools", "lawn and yard equipment"),
        slots={
            "product": ("a cordless drill", "a pruning shears set", "a raised garden bed kit",
                        "an electric lawn mower", "a garden hose reel", "heirloom tomato seeds",
                        "a leaf blower", "a socket wrench set", "a wheelbarrow",
                        "organic potting soil", "a circular saw", "a drip irrigation kit",
                        "a tool chest"),
            "power": ("20V battery", "brushless motor", "stainless steel blades",
                      "heavy-duty steel", "ergonomic grip", "weather-resistant coating"),
            "job": ("vegetable gardens", "lawn care", "DIY projects", "yard cleanup",
                    "woodworking", "container gardening"),
        },
        titles=("{Product} with {Power}", "{Product} for {Job}", ("{Product} - {Power}, "
                "Kit"), "Professional {Product} for {Job}", "{Product}, {Power}"),
        descriptions=("Tackle {job} with {product}; {power} for reliable performance.",
                      "A garden and tool essential: {product} featuring {power}.",
                      "{product} built for {job}, with {power} and a storage case.",
                      "Homeowners and gardeners rely on {product} for {job}."),
        tags=("garden", "tools", "gardening", "power tools", "lawn", "yard", "DIY",
              "hardware"),
        cost=(50.0, 0.8, 5.0, 700.0),
    ),
    _C(
        name="Office",
        interests=("office supplies and stationery", "notebooks and planners",
                   "desk organization"),
        slots={
            "product": ("a dotted bullet journal", "gel pens", "a weekly planner",
                        "a desk organizer", "sticky notes", "a label maker", "a laptop stand",
                        "a fountain pen", "a monitor riser", "a whiteboard", "a paper shredder",
                        "highlighters", "a document scanner"),
            "detail": ("A5 size", "assorted colors", "acid-free paper", "bamboo wood",
                       "fine point", "undated pages", "adjustable height"),
            "for_who": ("students", "home office workers", "teachers", ("planners and "
                        "journalers"), "small businesses"),
        },
        titles=("{Product}, {Detail}", "{Product} for {For_who}", ("{Product} - {Detail}, "
                "Pack"), "Stationery: {Product}, {Detail}", ("{Product} for {For_who}, "
                "{Detail}")),
        descriptions=("Office supplies for {for_who}: {product} with {detail}.",
                      "Stay organized at your desk with {product}; {detail}.",
                      ("Stationery lovers' pick: {product}, {detail}, great for notes and "
                      "planning."),
                      "{product} designed for {for_who}; {detail} and long-lasting."),
        tags=("office supplies", "stationery", "school supplies", "planner", "desk",
              "organization", "writing"),
        cost=(14.0, 0.7, 3.0, 250.0),
    ),
    _C(
        name="Grocery",
        interests=("gourmet groceries and snacks", "specialty coffee and tea",
                   "healthy pantry staples"),
        slots={
            "product": ("single-origin coffee beans", "loose leaf green tea",
                        "extra virgin olive oil", "dark chocolate bars", "mixed nuts",
                        "organic maple syrup", "protein bars", "sparkling water",
                        "artisan pasta", "raw honey", "hot sauce sampler", "granola",
                        "matcha powder", "sea salt potato chips"),
            "origin": ("from Colombia", "from Italy", "from Japan", "from Vermont",
                       "from Ethiopia", "small batch", "organic"),
            "pack": ("12-pack", "2 lb bag", "gift box", "variety pack", "family size",
                     "6 count"),
        },
        titles=("{Product} {Origin}, {Pack}", "{Product} - {Pack}", ("Gourmet {Product} "
                "{Origin}"), "{Product}, {Pack}, Non-GMO", "Organic {Product}, {Pack}"),
        descriptions=("Pantry staple: {product} {origin}, {pack}.",
                      ("Snack and cook with {product} {origin}; rich flavor and no artificial "
                      "ingredients."),
                      "Gourmet food gift: {product}, {pack}, perfect for foodies.",
                      "A healthy grocery pick: {product} {origin}, non-GMO."),
        tags=("grocery", "food", "snacks", "gourmet", "coffee", "tea", "pantry", "organic"),
        cost=(15.0, 0.5, 3.0, 90.0),
    ),
)



def _bare_products(cat: CategorySpec) -> CategorySpec:
    """Store listings name a product without an article ("Cast Iron Skillet, 10-Inch"), so the
    product slots are written naturally above and stripped here."""
    slots = {
        key: tuple(re.sub(r"^(a|an) ", "", v) for v in values) if key in ("product", "book")
        else values
        for key, values in cat.slots.items()
    }
    return replace(cat, slots=slots)


CATEGORIES = tuple(_bare_products(cat) for cat in _RAW_CATEGORIES)

SPEC = DomainSpec(
    name="shopping",
    categories=CATEGORIES,
    shared={},
    closers=("Free shipping on orders over $35.", "30-day hassle-free returns.",
             "Ships in 1-2 business days.", "Backed by a one-year warranty."),
    closer_probability=0.3,
    num_items=1800,
    cost_unit="dollars",
    cost_decimals=2,
    price_endings=(0.99, 0.99, 0.49, 0.95),
)
