"""Flask extensions, created unbound and attached to the app in create_app."""

from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sock import Sock
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from booking.orm import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
sock = Sock()
compress = Compress()
# No default limits: only the views that name a limit (signing in) are throttled.
limiter = Limiter(key_func=get_remote_address)
